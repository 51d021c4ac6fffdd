package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/eventstore"
)

// Metrics are the node's Prometheus metrics, served at /metrics: appends
// and their sizes, admissions by decision, the colour projection's lag,
// the issuance layer's colour reads, and request latency by route.
type Metrics struct {
	registry    *prometheus.Registry
	appends     prometheus.Counter
	batch       prometheus.Histogram
	admissions  *prometheus.CounterVec
	colourReads prometheus.Counter
	requests    *prometheus.HistogramVec
}

// NewMetrics registers the metrics; lag, when set, is asked the colour
// projection's distance from the ledger's head at each scrape.
func NewMetrics(lag func(ctx context.Context) (int64, error)) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		appends: prometheus.NewCounter(prometheus.CounterOpts{Name: "riskledger_events_appended_total",
			Help: "Events appended to the ledger by API commands."}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "riskledger_append_batch_events",
			Help: "Events per append of an API command.", Buckets: []float64{1, 2, 3, 5, 8, 13, 21}}),
		admissions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "riskledger_admissions_total",
			Help: "Checkpoint scans recorded through the API, by decision."}, []string{"decision"}),
		colourReads: prometheus.NewCounter(prometheus.CounterOpts{Name: "riskledger_issuance_colour_reads_total",
			Help: "Colour reads by the issuance layer (counted, not logged one by one)."}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "riskledger_http_request_duration_seconds",
			Help:    "API request latency by route and status.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}}, []string{"route", "status"}),
	}
	m.registry.MustRegister(m.appends, m.batch, m.admissions, m.colourReads, m.requests,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	if lag != nil {
		m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "riskledger_projection_lag_events",
			Help: "Ledger events the colour read model has not applied yet."}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := lag(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		}))
	}
	return m
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

func (m *Metrics) request(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Observe(d.Seconds())
}

func (m *Metrics) colourRead() { m.colourReads.Inc() }

// appended counts a command's events, and a scan's admission decision.
func (m *Metrics) appended(evs []eventstore.Event, already bool) {
	if already {
		return
	}
	m.appends.Add(float64(len(evs)))
	m.batch.Observe(float64(len(evs)))
	for _, e := range evs {
		if e.Type != domain.EvScanRecorded {
			continue
		}
		var s struct {
			Admitted bool `json:"admitted"`
		}
		if json.Unmarshal(e.Payload, &s) == nil {
			decision := "denied"
			if s.Admitted {
				decision = "admitted"
			}
			m.admissions.WithLabelValues(decision).Inc()
		}
	}
}
