package admin

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// OutputSnapshot is one output's state, read at scrape time.
type OutputSnapshot struct {
	Name string // the output's name in the config; the output label

	Depth        int64 // events waiting in the buffer
	BytesOnDisk  int64 // size of the disk buffer; 0 for a memory buffer
	Delivered    int64 // events the output confirmed, since start
	Retried      int64 // delivery attempts repeated after a failure, since start
	Dropped      int64 // events lost because the buffer was full, since start
	DeadLettered int64 // events the output rejected for good, since start

	// OldestUndelivered is the age of the oldest waiting event; 0 when
	// nothing waits.
	OldestUndelivered time.Duration
	// Healthy: the last delivery attempt succeeded (or nothing to deliver
	// yet).
	Healthy bool
}

// outputCollector turns the outputs' own counts into metrics at scrape
// time. The outputs keep their counts anyway (they need them for the
// audit.events_lost reports and for shutdown), so mirroring every change
// into Prometheus counters as it happens would be a second, drifting copy.
type outputCollector struct {
	outputs func() []OutputSnapshot
}

func outputDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, []string{"output"}, nil)
}

var (
	outputDepthDesc        = outputDesc("auditproxy_output_queue_depth", "Events waiting in the output's buffer.")
	outputBytesDesc        = outputDesc("auditproxy_output_bytes_on_disk", "Size of the output's disk buffer in bytes (0 for a memory buffer).")
	outputDeliveredDesc    = outputDesc("auditproxy_output_delivered_total", "Events the output confirmed as delivered.")
	outputRetriedDesc      = outputDesc("auditproxy_output_retried_total", "Delivery attempts repeated after a failure.")
	outputDroppedDesc      = outputDesc("auditproxy_output_dropped_total", "Events lost because the output's buffer was full.")
	outputDeadLetteredDesc = outputDesc("auditproxy_output_dead_lettered_total", "Events the output rejected permanently, written to its dead-letter file.")
	outputOldestDesc       = outputDesc("auditproxy_output_oldest_undelivered_seconds", "Age of the oldest event waiting in the output's buffer; 0 when none waits.")
	outputHealthyDesc      = outputDesc("auditproxy_output_healthy", "1 when the output's last delivery attempt succeeded (or it had nothing to deliver), else 0.")
)

func (c outputCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		outputDepthDesc, outputBytesDesc, outputDeliveredDesc, outputRetriedDesc,
		outputDroppedDesc, outputDeadLetteredDesc, outputOldestDesc, outputHealthyDesc,
	} {
		ch <- d
	}
}

func (c outputCollector) Collect(ch chan<- prometheus.Metric) {
	if c.outputs == nil {
		return
	}
	for _, o := range c.outputs() {
		emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64) {
			m, err := prometheus.NewConstMetric(d, t, v, o.Name)
			if err != nil { // a name that is not UTF-8: report it, keep the rest of the scrape
				m = prometheus.NewInvalidMetric(d, err)
			}
			ch <- m
		}
		healthy := 0.0
		if o.Healthy {
			healthy = 1
		}
		emit(outputDepthDesc, prometheus.GaugeValue, float64(o.Depth))
		emit(outputBytesDesc, prometheus.GaugeValue, float64(o.BytesOnDisk))
		emit(outputDeliveredDesc, prometheus.CounterValue, float64(o.Delivered))
		emit(outputRetriedDesc, prometheus.CounterValue, float64(o.Retried))
		emit(outputDroppedDesc, prometheus.CounterValue, float64(o.Dropped))
		emit(outputDeadLetteredDesc, prometheus.CounterValue, float64(o.DeadLettered))
		emit(outputOldestDesc, prometheus.GaugeValue, o.OldestUndelivered.Seconds())
		emit(outputHealthyDesc, prometheus.GaugeValue, healthy)
	}
}
