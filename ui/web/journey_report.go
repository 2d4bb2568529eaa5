package web

import (
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// Chart geometry (SVG user units).
const (
	chartW      = 720
	chartH      = 200
	chartLeft   = 40
	chartBottom = 24
	hbarLabelW  = 260
	hbarRowH    = 26
)

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

// timelineChart draws entries and conversions per bucket side by side.
func timelineChart(buckets []journeys.Bucket) views.Chart {
	ch := views.Chart{Width: chartW, Height: chartH + chartBottom, Title: "Entries and conversions"}
	var top int64 = 1
	for _, b := range buckets {
		top = max(top, b.Entries, b.Conversions)
	}
	slot := float64(chartW-chartLeft) / float64(max(1, len(buckets)))
	bw := max(1, slot/2-1)
	y := func(v int64) float64 { return chartH * float64(v) / float64(top) }
	ch.Axis = append(ch.Axis, views.Label{X: chartLeft - 4, Y: 10, Text: fmt.Sprint(top), Anchor: "end"},
		views.Label{X: chartLeft - 4, Y: chartH, Text: "0", Anchor: "end"})
	every := max(1, len(buckets)/8)
	for i, b := range buckets {
		x := chartLeft + float64(i)*slot
		key := b.Label
		e, c := b.Entries, b.Conversions
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

// journeyReport: GET /journeys/:id/report?range=30d|48h (journey readers):
// the report's numbers (internal/journeys.Reports) drawn as SVG charts.
func (h *Handler) journeyReport(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	rep, err := h.reports.Report(ctx, ws, c.Params("id"), c.Query("range", journeys.Range30Days), h.cfg.Now())
	if err != nil {
		return httpkit.ReportError(err)
	}
	j := rep.Journey
	st := views.ReportPage{JourneyID: j.ID, Name: j.Name, Range: rep.Range, Version: j.LiveVersion,
		Entries: rep.Entries, Conversions: rep.Conversions}
	st.Timeline = timelineChart(rep.Buckets)

	var rows []hrow
	var top float64
	for _, cv := range rep.Channels {
		var detail []string
		for _, v := range cv.ByStatus {
			detail = append(detail, fmt.Sprintf("%d %s", v.Count, v.Status))
		}
		top = max(top, float64(cv.Total))
		rows = append(rows, hrow{label: cv.Channel, value: float64(cv.Total), text: fmt.Sprintf("%d (%s)", cv.Total, strings.Join(detail, ", "))})
	}
	st.Volume = hbarChart("Messages by channel", rows, top)
	st.HasVolume = len(rows) > 0

	if j.LiveVersion > 0 {
		st.FunnelTruncated = rep.FunnelTruncated
		rows = rows[:0]
		var first float64
		for i, f := range rep.Funnel {
			if i == 0 {
				first = float64(f.Reached)
			}
			label := f.NodeID
			if f.Title != "" {
				label = f.Title + " (" + f.NodeID + ")"
			}
			text := fmt.Sprint(f.Reached)
			if first > 0 {
				text += " · " + pct(f.Share)
			}
			rows = append(rows, hrow{label: label, value: float64(f.Reached), text: text})
		}
		st.Funnel = hbarChart("Funnel along the most common path", rows, first)
		st.HasFunnel = len(rows) > 0

		rows = rows[:0]
		top = 0
		for _, v := range rep.Variants {
			top = max(top, v.High)
			rows = append(rows, hrow{label: v.NodeID + " · " + v.Variant, value: v.Rate, lo: v.Low, hi: v.High, ci: true,
				text: fmt.Sprintf("%d/%d converted = %s (95%% CI %s–%s)", v.Converted, v.Runs, pct(v.Rate), pct(v.Low), pct(v.High))})
		}
		st.Variants = hbarChart("Split variants: conversion rate", rows, top)
		st.HasVariants = len(rows) > 0
	}
	if st.Lift, err = h.liftView(ctx, ws, j.ID); err != nil { // ui/intelligence.go
		return err
	}
	return render(c, views.Report(h.page(c, "Report · "+j.Name), st))
}
