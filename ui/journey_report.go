package ui

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// reportStore is what the journey report's charts read.
type reportStore interface {
	JourneyTimeline(ctx context.Context, workspaceID, journeyID, bucket string, p store.Period) (store.JourneyTimeline, error)
	JourneyMessageVolume(ctx context.Context, workspaceID, journeyID string, p store.Period) ([]store.ChannelCount, error)
	JourneyVariants(ctx context.Context, workspaceID, journeyID string, version int) ([]store.VariantCount, error)
	JourneyPaths(ctx context.Context, workspaceID, journeyID string, version int, p store.Period) ([]store.PathCount, bool, error)
}

// Chart geometry (SVG user units).
const (
	chartW      = 720
	chartH      = 200
	chartLeft   = 40
	chartBottom = 24
	hbarLabelW  = 260
	hbarRowH    = 26
)

// wilson is the 95% Wilson score interval of x successes in n trials.
func wilson(x, n int64) (lo, hi float64) {
	if n <= 0 {
		return 0, 0
	}
	const z = 1.959963984540054
	p, nf := float64(x)/float64(n), float64(n)
	den := 1 + z*z/nf
	center := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return max(0, center-half), min(1, center+half)
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

// timelineChart draws entries and conversions per bucket side by side.
func timelineChart(buckets []time.Time, layout string, entries, conv map[time.Time]int64) views.Chart {
	ch := views.Chart{Width: chartW, Height: chartH + chartBottom, Title: "Entries and conversions"}
	var top int64 = 1
	for _, b := range buckets {
		top = max(top, entries[b], conv[b])
	}
	slot := float64(chartW-chartLeft) / float64(max(1, len(buckets)))
	bw := max(1, slot/2-1)
	y := func(v int64) float64 { return chartH * float64(v) / float64(top) }
	ch.Axis = append(ch.Axis, views.Label{X: chartLeft - 4, Y: 10, Text: fmt.Sprint(top), Anchor: "end"},
		views.Label{X: chartLeft - 4, Y: chartH, Text: "0", Anchor: "end"})
	every := max(1, len(buckets)/8)
	for i, b := range buckets {
		x := chartLeft + float64(i)*slot
		key := b.Format(layout)
		e, c := entries[b], conv[b]
		ch.Bars = append(ch.Bars,
			views.Bar{X: x, Y: chartH - y(e), W: bw, H: y(e), Class: "bar-entries", Title: fmt.Sprintf("%s: %d entries", key, e)},
			views.Bar{X: x + bw, Y: chartH - y(c), W: bw, H: y(c), Class: "bar-conversions", Title: fmt.Sprintf("%s: %d conversions", key, c)})
		if i%every == 0 {
			ch.Axis = append(ch.Axis, views.Label{X: x, Y: chartH + 16, Text: key})
		}
	}
	return ch
}

// hbarChart draws one horizontal bar per row; intervals are optional
// whiskers on the same scale (0..top).
type hrow struct {
	label  string
	value  float64
	text   string
	lo, hi float64
	ci     bool
}

func hbarChart(title string, rows []hrow, top float64) views.Chart {
	ch := views.Chart{Width: chartW, Height: max(1, len(rows))*hbarRowH + 4, Title: title}
	if top <= 0 {
		top = 1
	}
	span := float64(chartW - hbarLabelW - 8)
	for i, r := range rows {
		y := float64(i*hbarRowH + 2)
		w := span * r.value / top
		ch.Axis = append(ch.Axis, views.Label{X: hbarLabelW - 6, Y: y + 16, Text: r.label, Anchor: "end"})
		ch.Bars = append(ch.Bars, views.Bar{X: hbarLabelW, Y: y, W: w, H: hbarRowH - 6, Class: "bar-entries", Title: r.label + ": " + r.text})
		ch.Axis = append(ch.Axis, views.Label{X: hbarLabelW + w + 4, Y: y + 16, Text: r.text})
		if r.ci {
			ch.Whiskers = append(ch.Whiskers, views.Whisker{X1: hbarLabelW + span*r.lo/top, X2: hbarLabelW + span*r.hi/top, Y: y + (hbarRowH-6)/2})
		}
	}
	return ch
}

// funnelSteps picks the most common path — the one most finished runs
// took (or, before any run finished, most runs so far) — and counts, for
// each step along it, the runs whose path begins with the path up to that
// step: how many got that far that way.
func funnelSteps(paths []store.PathCount) (steps []string, reached []int64) {
	var best *store.PathCount
	for i := range paths {
		p := &paths[i]
		switch {
		case best == nil,
			p.Finished && !best.Finished,
			p.Finished == best.Finished && p.Count > best.Count:
			best = p
		}
	}
	if best == nil {
		return nil, nil
	}
	steps = best.Nodes
	reached = make([]int64, len(steps))
	for _, p := range paths {
		for k := 0; k < len(steps) && k < len(p.Nodes) && p.Nodes[k] == steps[k]; k++ {
			reached[k] += p.Count
		}
	}
	return steps, reached
}

// journeyReport: GET /journeys/:id/report?range=30d|48h (journey readers).
func (s *Server) journeyReport(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	j, err := s.store.GetJourney(ctx, ws, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	now := s.cfg.Now().UTC()
	rng := c.Query("range", "30d")
	var bucket, layout string
	var buckets []time.Time
	switch rng {
	case "30d":
		bucket, layout = store.BucketDay, "2006-01-02"
		first := now.Truncate(24*time.Hour).AddDate(0, 0, -29)
		for i := 0; i < 30; i++ {
			buckets = append(buckets, first.AddDate(0, 0, i))
		}
	case "48h":
		bucket, layout = store.BucketHour, "2006-01-02 15:00"
		first := now.Truncate(time.Hour).Add(-47 * time.Hour)
		for i := 0; i < 48; i++ {
			buckets = append(buckets, first.Add(time.Duration(i)*time.Hour))
		}
	default:
		return httpkit.BadRequest("range: want 30d or 48h, got %q", rng)
	}
	period := store.Period{From: buckets[0], To: now.Add(time.Second)}
	st := views.ReportPage{JourneyID: j.ID, Name: j.Name, Range: rng, Version: j.LiveVersion}

	tl, err := s.store.JourneyTimeline(ctx, ws, j.ID, bucket, period)
	if err != nil {
		return err
	}
	entries, conv := map[time.Time]int64{}, map[time.Time]int64{}
	for _, t := range tl.Entries {
		entries[t.Start] = t.Count
		st.Entries += t.Count
	}
	for _, t := range tl.Conversions {
		conv[t.Start] = t.Count
		st.Conversions += t.Count
	}
	st.Timeline = timelineChart(buckets, layout, entries, conv)

	vol, err := s.store.JourneyMessageVolume(ctx, ws, j.ID, period)
	if err != nil {
		return err
	}
	totals := map[string]int64{}
	detail := map[string][]string{}
	for _, v := range vol {
		totals[v.Channel] += v.Count
		detail[v.Channel] = append(detail[v.Channel], fmt.Sprintf("%d %s", v.Count, v.Status))
	}
	var chans []string
	var top float64
	for ch, n := range totals {
		chans = append(chans, ch)
		top = max(top, float64(n))
	}
	sort.Strings(chans)
	var rows []hrow
	for _, ch := range chans {
		rows = append(rows, hrow{label: ch, value: float64(totals[ch]), text: fmt.Sprintf("%d (%s)", totals[ch], strings.Join(detail[ch], ", "))})
	}
	st.Volume = hbarChart("Messages by channel", rows, top)
	st.HasVolume = len(rows) > 0

	if j.LiveVersion > 0 {
		doc, err := s.journeys.Document(ctx, ws, j.ID, j.LiveVersion)
		if err != nil {
			return httpkit.JourneyError(err)
		}
		titles := map[string]string{}
		for _, n := range doc.Nodes {
			titles[n.ID] = n.Title
		}
		paths, truncated, err := s.store.JourneyPaths(ctx, ws, j.ID, j.LiveVersion, period)
		if err != nil {
			return err
		}
		st.FunnelTruncated = truncated
		steps, reached := funnelSteps(paths)
		rows = rows[:0]
		var first float64
		for i, id := range steps {
			if i == 0 {
				first = float64(reached[i])
			}
			label := id
			if titles[id] != "" {
				label = titles[id] + " (" + id + ")"
			}
			text := fmt.Sprint(reached[i])
			if first > 0 {
				text += " · " + pct(float64(reached[i])/first)
			}
			rows = append(rows, hrow{label: label, value: float64(reached[i]), text: text})
		}
		st.Funnel = hbarChart("Funnel along the most common path", rows, first)
		st.HasFunnel = len(rows) > 0

		vs, err := s.store.JourneyVariants(ctx, ws, j.ID, j.LiveVersion)
		if err != nil {
			return err
		}
		rows = rows[:0]
		top = 0
		for _, v := range vs {
			rate := 0.0
			if v.Runs > 0 {
				rate = float64(v.Converted) / float64(v.Runs)
			}
			lo, hi := wilson(v.Converted, v.Runs)
			top = max(top, hi)
			rows = append(rows, hrow{label: v.NodeID + " · " + v.Variant, value: rate, lo: lo, hi: hi, ci: true,
				text: fmt.Sprintf("%d/%d converted = %s (95%% CI %s–%s)", v.Converted, v.Runs, pct(rate), pct(lo), pct(hi))})
		}
		st.Variants = hbarChart("Split variants: conversion rate", rows, top)
		st.HasVariants = len(rows) > 0
	}
	if st.Lift, err = s.liftView(ctx, ws, j.ID); err != nil { // ui/intelligence.go
		return err
	}
	return render(c, views.Report(s.page(c, "Report · "+j.Name), st))
}
