package web

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// Chart geometry (SVG user units; text is 11 units high, about 6.5 wide
// per character).
const (
	chartW      = 720
	chartH      = 200
	chartTop    = 8  // room above the tallest bar for its top tick label
	chartLeft   = 48 // the y axis's numbers
	chartBottom = 44 // the date labels and the axis title
	hbarRowH    = 26
	charW       = 6.5
	maxLabelW   = 280
)

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

// textWidth is how wide s is drawn at the charts' font size, roughly.
func textWidth(s string) float64 { return charW * float64(utf8.RuneCountInString(s)) }

// fitText cuts s to at most w units, ending it with an ellipsis.
func fitText(s string, w float64) string {
	n := int(w / charW)
	if utf8.RuneCountInString(s) <= n || n < 2 {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// niceTop rounds v up to 1, 2 or 5 times a power of ten (at least 1), so
// the y axis reads in round numbers.
func niceTop(v int64) int64 {
	if v <= 1 {
		return 1
	}
	p := int64(math.Pow10(int(math.Floor(math.Log10(float64(v))))))
	for _, m := range []int64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// timelineChart draws entries and conversions per bucket side by side,
// with a y axis in round numbers, grid lines, a date (or hour) under
// every few buckets counted back from the last, which is labelled Today
// (or This hour), and a legend.
func timelineChart(buckets []journeys.Bucket, rng string) views.Chart {
	ch := views.Chart{Width: chartW, Height: chartTop + chartH + chartBottom, Title: "Entries and conversions"}
	var peak int64
	for _, b := range buckets {
		peak = max(peak, b.Entries, b.Conversions)
	}
	top := niceTop(peak)
	base := float64(chartTop + chartH)
	y := func(v int64) float64 { return base - chartH*float64(v)/float64(top) }
	ticks := []int64{0, top}
	if top >= 2 {
		ticks = []int64{0, top / 2, top}
	}
	for _, t := range ticks {
		ch.Lines = append(ch.Lines, views.Line{X1: chartLeft, X2: chartW, Y1: y(t), Y2: y(t), Class: "grid"})
		ch.Axis = append(ch.Axis, views.Label{X: chartLeft - 6, Y: y(t) + 4, Text: strconv.FormatInt(t, 10), Anchor: "end"})
	}
	slot := float64(chartW-chartLeft) / float64(max(1, len(buckets)))
	bw := max(1, slot/2-1)
	hourly := rng == journeys.Range48Hours
	every := 5 // days
	if hourly {
		every = 6 // hours
	}
	n := len(buckets)
	for i, b := range buckets {
		x := chartLeft + float64(i)*slot
		e, c := b.Entries, b.Conversions
		ch.Bars = append(ch.Bars,
			views.Bar{X: x, Y: y(e), W: bw, H: base - y(e), Class: "bar-entries", Title: fmt.Sprintf("%s: %d entries", b.Label, e)},
			views.Bar{X: x + bw, Y: y(c), W: bw, H: base - y(c), Class: "bar-conversions", Title: fmt.Sprintf("%s: %d conversions", b.Label, c)})
		if (n-1-i)%every != 0 {
			continue
		}
		text := b.Start.Format("Jan 2")
		switch {
		case i == n-1 && hourly:
			text = "This hour"
		case i == n-1:
			text = "Today"
		case hourly && b.Start.Hour() != 0:
			text = b.Start.Format("15:04")
		}
		anchor := "middle"
		lx := x + slot/2
		if i == n-1 {
			anchor, lx = "end", x+slot
		}
		ch.Lines = append(ch.Lines, views.Line{X1: x + slot/2, X2: x + slot/2, Y1: base, Y2: base + 4, Class: "tick"})
		ch.Axis = append(ch.Axis, views.Label{X: lx, Y: base + 17, Text: text, Anchor: anchor})
	}
	ch.Lines = append(ch.Lines, views.Line{X1: chartLeft, X2: chartW, Y1: base, Y2: base, Class: "axis"})
	axisTitle := "Day (UTC)"
	if hourly {
		axisTitle = "Hour (UTC)"
	}
	ch.Axis = append(ch.Axis, views.Label{X: chartLeft + float64(chartW-chartLeft)/2, Y: base + 36, Text: axisTitle, Anchor: "middle", Class: "axis-title"})
	// The legend, under the axis on the left (above it the bars can reach
	// the top).
	ch.Legend = []views.LegendItem{{Class: "bar-entries", Text: "Entries"}, {Class: "bar-conversions", Text: "Conversions"}}
	ch.LegendY = base + 28
	if peak == 0 {
		ch.Axis = append(ch.Axis, views.Label{X: chartLeft + float64(chartW-chartLeft)/2, Y: base - chartH/2, Text: "Nothing in this period yet", Anchor: "middle", Class: "empty"})
	}
	return ch
}

// hrow is one bar of a horizontal bar chart; intervals are optional
// whiskers on the same scale (0..top).
type hrow struct {
	label  string
	tip    string // the tooltip's name for the row; label when empty
	value  float64
	text   string
	lo, hi float64
	ci     bool
}

// hbarChart draws one horizontal bar per row with its label on the left
// and its numbers right after the bar (or its interval, whichever ends
// later). The label column is as wide as the longest label (at most
// maxLabelW, longer labels are cut with an ellipsis and whole in the
// tooltip) and the bars' span leaves room for the longest numbers, so no
// text is clipped and no line crosses it.
func hbarChart(title string, rows []hrow, top float64) views.Chart {
	ch := views.Chart{Width: chartW, Height: max(1, len(rows))*hbarRowH + 4, Title: title}
	if top <= 0 {
		top = 1
	}
	var labelW, textW float64 = 60, 0
	for _, r := range rows {
		labelW = max(labelW, textWidth(r.label)+12)
		textW = max(textW, textWidth(r.text)+10)
	}
	labelW = min(labelW, maxLabelW)
	span := max(80, float64(chartW)-labelW-textW)
	for i, r := range rows {
		y := float64(i*hbarRowH + 2)
		w := span * min(r.value, top) / top
		tip := r.tip
		if tip == "" {
			tip = r.label
		}
		ch.Axis = append(ch.Axis, views.Label{X: labelW - 6, Y: y + 16, Text: fitText(r.label, labelW-12), Anchor: "end", Title: tip})
		ch.Bars = append(ch.Bars, views.Bar{X: labelW, Y: y, W: w, H: hbarRowH - 6, Class: "bar-entries", Title: tip + ": " + r.text})
		end := w
		if r.ci {
			x1, x2 := labelW+span*min(r.lo, top)/top, labelW+span*min(r.hi, top)/top
			ch.Whiskers = append(ch.Whiskers, views.Whisker{X1: x1, X2: x2, Y: y + (hbarRowH-6)/2})
			end = max(end, x2-labelW)
		}
		ch.Axis = append(ch.Axis, views.Label{X: labelW + end + 6, Y: y + 16, Text: r.text})
	}
	return ch
}

// reportNames are the step names the report shows: titles, and where two
// steps read the same, their ids after them.
func reportNames(s stepNames) stepNames {
	count := map[string]int{}
	for _, t := range s {
		count[t]++
	}
	out := stepNames{}
	for id, t := range s {
		if count[t] > 1 && t != id {
			t += " (" + id + ")"
		}
		out[id] = t
	}
	return out
}

// journeyReport: GET /journeys/:id/report?range=30d|48h&version=N
// (journey readers): the report's numbers (internal/journeys.Reports)
// drawn as SVG charts, and every step's counters of a version (the live
// one by default) by title.
func (h *Handler) journeyReport(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	rep, err := h.reports.Report(ctx, ws, c.Params("id"), c.Query("range", journeys.Range30Days), h.cfg.Now())
	if err != nil {
		return httpkit.ReportError(err)
	}
	j := rep.Journey
	version := j.LiveVersion
	if v := c.Query("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			return httpkit.BadRequest("version: want a version number, got %q", v)
		}
		version = n
	}
	st := views.ReportPage{JourneyID: j.ID, Name: j.Name, Range: rep.Range, Version: j.LiveVersion,
		Entries: rep.Entries, Conversions: rep.Conversions}
	st.Timeline = timelineChart(rep.Buckets, rep.Range)
	vs := h.versionSteps(ws)
	reg := h.journeys.Registry()

	var rows []hrow
	var top float64
	for _, cv := range rep.Channels {
		var detail []string
		for _, v := range cv.ByStatus {
			detail = append(detail, fmt.Sprintf("%d %s", v.Count, strings.ToLower(views.DeliveryStatusText(v.Status))))
		}
		top = max(top, float64(cv.Total))
		rows = append(rows, hrow{label: kindTitle(reg, cv.Channel), value: float64(cv.Total), text: fmt.Sprintf("%d (%s)", cv.Total, strings.Join(detail, ", "))})
	}
	st.Volume = hbarChart("Messages by channel", rows, top)
	st.HasVolume = len(rows) > 0

	if j.LiveVersion > 0 {
		live, err := vs.of(ctx, j.ID, j.LiveVersion)
		if err != nil {
			return err
		}
		names := reportNames(live)
		st.FunnelTruncated = rep.FunnelTruncated
		rows = rows[:0]
		var first float64
		for i, f := range rep.Funnel {
			if i == 0 {
				first = float64(f.Reached)
			}
			text := fmt.Sprint(f.Reached)
			if first > 0 {
				text += " · " + pct(f.Share)
			}
			rows = append(rows, hrow{label: names.name(f.NodeID), value: float64(f.Reached), text: text})
		}
		st.Funnel = hbarChart("Funnel along the most common path", rows, first)
		st.HasFunnel = len(rows) > 0

		rows = rows[:0]
		top = 0
		for _, v := range rep.Variants {
			top = max(top, v.High)
			rows = append(rows, hrow{label: names.name(v.NodeID) + " · " + v.Variant, value: v.Rate, lo: v.Low, hi: v.High, ci: true,
				text: fmt.Sprintf("%d/%d converted = %s (95%% CI %s–%s)", v.Converted, v.Runs, pct(v.Rate), pct(v.Low), pct(v.High))})
		}
		st.Variants = hbarChart("Split variants: conversion rate", rows, top)
		st.HasVariants = len(rows) > 0
	}
	st.Messages = messageRows(rep.Messages, reg)
	if j.LiveVersion > 0 {
		if live, err := vs.of(ctx, j.ID, j.LiveVersion); err == nil {
			names := reportNames(live)
			for i, m := range st.Messages {
				if n := names.name(m.NodeID); n != "" && n != m.NodeID {
					st.Messages[i].Title = n
				}
			}
		}
	}
	if version > 0 {
		if st.Steps, err = h.reportSteps(ctx, ws, j.ID, version, j.LiveVersion, rep.Range, vs); err != nil {
			return httpkit.StatsError(err)
		}
	}
	if st.Lift, err = h.liftView(ctx, ws, j.ID); err != nil { // ui/intelligence.go
		return err
	}
	if j.LiveVersion > 0 {
		live, err := vs.of(ctx, j.ID, j.LiveVersion)
		if err != nil {
			return err
		}
		names := reportNames(live)
		for i := range st.Lift.Rows {
			id, rest, ok := strings.Cut(st.Lift.Rows[i].Label, " · ")
			if ok {
				st.Lift.Rows[i].Label = names.name(id) + " · " + rest
			}
		}
	}
	return render(c, views.Report(h.page(c, "Report · "+j.Name), st))
}

// messageRows are the report's message engagement rows
// (journeys.MessageStep; docs/engagement.md).
func messageRows(ms []journeys.MessageStep, reg interface {
	Lookup(string) (nodes.Spec, bool)
}) []views.ReportMessageRow {
	out := make([]views.ReportMessageRow, 0, len(ms))
	for _, m := range ms {
		title := m.Title
		if title == "" {
			title = m.NodeID
		}
		kind := m.Kind
		if spec, ok := reg.Lookup(m.Kind); ok {
			kind = spec.Title
		}
		out = append(out, views.ReportMessageRow{NodeID: m.NodeID, Title: title, Kind: kind, Tracked: m.Tracked,
			Sent: m.Sent, Delivered: m.Delivered, Bounced: m.Bounced, Opened: m.Opened, Clicked: m.Clicked,
			MachineOpened: m.MachineOpened, Unsubscribed: m.Unsubscribed, Converted: m.Converted,
			OpenRate: pct(m.OpenRate), ClickRate: pct(m.ClickRate), BounceRate: pct(m.BounceRate),
			UnsubscribeRate: pct(m.UnsubscribeRate), ConversionRate: pct(m.ConversionRate)})
	}
	return out
}

// reportSteps is the report's table of a version's steps by title with
// their counters (internal/journeys.Reports.Stats), and what moves did to
// them.
func (h *Handler) reportSteps(ctx context.Context, ws, journeyID string, version, live int, rng string, vs *versionSteps) (views.ReportSteps, error) {
	out := views.ReportSteps{Version: version, Live: live}
	stats, err := h.reports.Stats(ctx, ws, journeyID, version)
	if err != nil {
		return out, err
	}
	names, err := vs.of(ctx, journeyID, version)
	if err != nil {
		return out, err
	}
	names = reportNames(names)
	reg := h.journeys.Registry()
	for _, n := range stats.Nodes {
		title, inDoc := names[n.NodeID]
		if !inDoc {
			// A moved run's step on an earlier version: its title there
			// (the newest of the last 20 versions that has it).
			title = n.NodeID
			for v := version - 1; v >= 1 && v >= version-20; v-- {
				older, err := vs.of(ctx, journeyID, v)
				if err != nil {
					return out, err
				}
				if t, ok := older[n.NodeID]; ok {
					title = t
					break
				}
			}
		}
		kind := kindTitle(reg, n.Kind)
		if kind == title {
			kind = ""
		}
		row := views.ReportStepRow{NodeID: n.NodeID, Title: title, Kind: kind, Earlier: !inDoc,
			Entered: n.Entered, Completed: n.Completed, Waiting: n.Waiting, Exited: n.Exited, Failed: n.Failed, Moved: n.Moved,
			Skipped: n.Skipped}
		ports := make([]string, 0, len(n.Ports))
		for p := range n.Ports {
			ports = append(ports, p)
		}
		sort.Strings(ports)
		if len(ports) > 1 {
			var total int64
			for _, p := range ports {
				total += n.Ports[p]
			}
			for _, p := range ports {
				row.Ports = append(row.Ports, fmt.Sprintf("%s %d (%s)", p, n.Ports[p], pct(float64(n.Ports[p])/float64(max(1, total)))))
			}
		}
		out.Rows = append(out.Rows, row)
	}
	out.MovedIn = stats.Journey.MovedIn
	out.Entries = stats.Journey.Entries
	for v := max(1, live-9); v <= live; v++ {
		out.Versions = append(out.Versions, views.VersionLink{Version: v, URL: "/journeys/" + journeyID + "/report?range=" + rng + "&version=" + strconv.Itoa(v) + "#steps", Current: v == version})
	}
	return out, nil
}
