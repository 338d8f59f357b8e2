package output

import "github.com/auditproxy/auditproxy/output/format"

// openWithConfig is the Kind.Open of a sink built from a config struct C:
// the spec's options decode into C (unknown keys rejected), the spec's
// format goes into the field formatOf points at, and open builds the sink.
//
//	Register("nats", Kind{FlagArg: "url", Open: openWithConfig(OpenNATS,
//		func(c *NATSConfig) *format.Format { return &c.Format })})
func openWithConfig[C any, S Sink](open func(C) (S, error), formatOf func(*C) *format.Format) func(Spec) (Sink, error) {
	return func(s Spec) (Sink, error) {
		var c C
		if err := s.DecodeOptions(&c); err != nil {
			return nil, err
		}
		f, err := format.Get(s.Format)
		if err != nil {
			return nil, err
		}
		*formatOf(&c) = f
		sink, err := open(c)
		if err != nil {
			return nil, err // not a typed nil S in a non-nil Sink
		}
		return sink, nil
	}
}
