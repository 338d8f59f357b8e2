// Package auditproxy holds what the binary carries with it: the repository's
// rules.yaml, used by the demo when run away from a checkout.
package auditproxy

import _ "embed"

// DemoRules is the repository's rules.yaml, written for the built-in demo app.
//
//go:embed rules.yaml
var DemoRules []byte
