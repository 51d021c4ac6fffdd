package main

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"
)

// progress draws a one-line progress bar on a terminal: the commands done,
// the rate, and, when the input's size is known, how far through it the
// run is.
type progress struct {
	out   io.Writer
	label string
	start time.Time
	last  time.Time
	n     int
	// fraction, when set, says how much of the input was read.
	fraction func() float64
}

// newProgress returns a progress bar on standard error when it is a
// terminal, and nil (which draws nothing) otherwise.
func (m *Main) newProgress(label string) *progress {
	f, ok := m.Stderr.(*os.File)
	if !ok {
		return nil
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	now := time.Now()
	return &progress{out: f, label: label, start: now, last: now}
}

func (p *progress) add(n int) {
	if p == nil {
		return
	}
	p.n += n
	if now := time.Now(); now.Sub(p.last) >= 200*time.Millisecond {
		p.last = now
		p.draw(now)
	}
}

func (p *progress) draw(now time.Time) {
	rate := float64(p.n) / max(now.Sub(p.start).Seconds(), 1e-3)
	if p.fraction == nil {
		fmt.Fprintf(p.out, "\r%s: %d commands, %.0f/s ", p.label, p.n, rate)
		return
	}
	f := min(max(p.fraction(), 0), 1)
	const width = 30
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if float64(i) < f*width {
			bar[i] = '='
		}
	}
	fmt.Fprintf(p.out, "\r%s [%s] %3.0f%% %d commands, %.0f/s ", p.label, bar, f*100, p.n, rate)
}

// done draws the last state and ends the line.
func (p *progress) done() {
	if p == nil || p.n == 0 {
		return
	}
	p.draw(time.Now())
	fmt.Fprintln(p.out)
}

// countingReader counts the bytes read through it, for a progress bar
// drawn by another goroutine.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}
