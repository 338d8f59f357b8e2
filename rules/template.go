package rules

import (
	"fmt"
	"strings"
)

// A template is text with {references}: "{actor.name} created user {target.name}".
// A reference is an event field (actor.id, actor.name, actor.type, target.type,
// target.id, target.name, action, area, rule) or any source. {{ and }} are
// literal braces. A reference with no value renders as "unknown".
type template struct {
	parts []tplPart
}

type tplPart struct {
	lit   string
	field eventField // set for event-field references
	src   *source    // set for source references
}

// eventField names an event field a template may use.
type eventField uint8

const (
	fieldNone eventField = iota
	fieldActorID
	fieldActorName
	fieldActorType
	fieldTargetType
	fieldTargetID
	fieldTargetName
	fieldAction
	fieldArea
	fieldRule
)

var eventFields = map[string]eventField{
	"actor.id": fieldActorID, "actor.name": fieldActorName, "actor.type": fieldActorType,
	"target.type": fieldTargetType, "target.id": fieldTargetID, "target.name": fieldTargetName,
	"action": fieldAction, "area": fieldArea, "rule": fieldRule,
}

// missingValue is what a reference without a value renders as.
const missingValue = "unknown"

// parseTemplate compiles text; it reports the first problem found.
func parseTemplate(text string) (*template, error) {
	t := &template{}
	var lit strings.Builder
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '{' && i+1 < len(text) && text[i+1] == '{':
			lit.WriteByte('{')
			i++
		case c == '}' && i+1 < len(text) && text[i+1] == '}':
			lit.WriteByte('}')
			i++
		case c == '}':
			return nil, fmt.Errorf("unmatched } at offset %d (write }} for a literal brace)", i)
		case c == '{':
			end := strings.IndexByte(text[i+1:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unclosed { at offset %d", i)
			}
			ref := strings.TrimSpace(text[i+1 : i+1+end])
			part, err := parseRef(ref)
			if err != nil {
				return nil, fmt.Errorf("{%s} at offset %d: %w", ref, i, err)
			}
			if lit.Len() > 0 {
				t.parts = append(t.parts, tplPart{lit: lit.String()})
				lit.Reset()
			}
			t.parts = append(t.parts, part)
			i += end + 1
		default:
			lit.WriteByte(c)
		}
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, tplPart{lit: lit.String()})
	}
	return t, nil
}

func parseRef(ref string) (tplPart, error) {
	if ref == "" {
		return tplPart{}, fmt.Errorf("empty reference")
	}
	if f, ok := eventFields[ref]; ok {
		return tplPart{field: f}, nil
	}
	src, ok, err := parseSource(ref)
	if err != nil {
		return tplPart{}, err
	}
	if !ok {
		return tplPart{}, fmt.Errorf("unknown reference (use actor.*, target.*, action, area, rule or a source; %s)", sourceHelp)
	}
	return tplPart{src: &src}, nil
}

// sources lists the sources the template reads, for capture planning.
func (t *template) sources() []source {
	var out []source
	for _, p := range t.parts {
		if p.src != nil {
			out = append(out, *p.src)
		}
	}
	return out
}
