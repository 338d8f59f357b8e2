package output

import "github.com/auditproxy/auditproxy/output/format"

// openWithConfig is the Kind.Open of a sink built from a config struct C:
// the spec's options decode into C (unknown keys rejected), the spec's
// format goes into the field formatOf points at, and open builds the sink.
//
//	Register("nats", Kind{FlagArg: "url", Open: openWithConfig(OpenNATS,
//		func(c *NATSConfig) *format.Format { return &c.Format })})
func openWithConfig[C any, S Sink](open func(C) (S, error), formatOf func(*C) *format.Format) func(Spec) (Sink, error) {
	return fromSpec(func(s Spec) (S, error) {
		var c C
		var zero S
		if err := s.DecodeOptions(&c); err != nil {
			return zero, err
		}
		f, err := format.Get(s.Format)
		if err != nil {
			return zero, err
		}
		*formatOf(&c) = f
		return open(c)
	})
}

// fromSpec is the Kind.Open of a sink opened from the spec itself: its
// error comes back without a typed nil S in a non-nil Sink.
func fromSpec[S Sink](open func(Spec) (S, error)) func(Spec) (Sink, error) {
	return func(s Spec) (Sink, error) {
		sink, err := open(s)
		if err != nil {
			return nil, err
		}
		return sink, nil
	}
}
