package web

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/learn"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
	"github.com/waymarkhq/waymark/worker"
)

// intelligenceStore is what the bandit split, best-time and lift views read
// and the freeze action writes.
type intelligenceStore interface {
	SplitCounts(ctx context.Context, journeyID, nodeID string) ([]store.ArmCount, error)
	SplitFreezes(ctx context.Context, journeyID string) ([]store.SplitFreeze, error)
	FreezeSplit(ctx context.Context, f store.SplitFreeze) (store.SplitFreeze, error)
	UnfreezeSplit(ctx context.Context, journeyID, nodeID string) (bool, error)
}

// splitInfo is a split node of a journey document.
type splitInfo struct {
	ID, Title, Strategy string
	Variants            []string
	Holdout             int
	MinShare            int
}

// splitNodes lists a document's split nodes with their raw settings.
func splitNodes(doc *flows.Journey) []splitInfo {
	var out []splitInfo
	for _, n := range doc.Nodes {
		if n.Kind != "split" {
			continue
		}
		si := splitInfo{ID: n.ID, Title: n.Title, Strategy: "random", MinShare: 10}
		if s, ok := n.Config["strategy"].(string); ok && s != "" {
			si.Strategy = s
		}
		if h, ok := configInt(n.Config["holdout"]); ok {
			si.Holdout = h
		}
		if m, ok := configInt(n.Config["min_share"]); ok {
			si.MinShare = m
		}
		if vs, ok := n.Config["variants"].([]any); ok {
			for _, v := range vs {
				if m, ok := v.(map[string]any); ok {
					if name, ok := m["name"].(string); ok {
						si.Variants = append(si.Variants, name)
					}
				}
			}
		}
		out = append(out, si)
	}
	return out
}

// configInt reads a whole number from a parsed document's config.
func configInt(v any) (int, bool) {
	switch n := v.(type) {
	case float64:
		return int(n), true
	case int:
		return n, true
	case int64:
		return int(n), true
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	}
	return 0, false
}

// banditSplitJSON is a bandit split as the canvas shows it.
type banditSplitJSON struct {
	NodeID     string              `json:"node_id"`
	Title      string              `json:"title,omitempty"`
	MinShare   float64             `json:"min_share"`
	HoldoutPct int                 `json:"holdout_pct"`
	Holdout    holdoutJSON         `json:"holdout"`
	Frozen     string              `json:"frozen,omitempty"`
	FrozenBy   string              `json:"frozen_by,omitempty"`
	Arms       []learn.ArmEstimate `json:"arms"`
	Leader     string              `json:"leader"`
}

type holdoutJSON struct {
	Runs        int64 `json:"runs"`
	Conversions int64 `json:"conversions"`
}

type banditJSON struct {
	JourneyID string            `json:"journey_id"`
	Version   int               `json:"version"`
	CanFreeze bool              `json:"can_freeze"`
	Splits    []banditSplitJSON `json:"splits"`
}

// banditSplits computes the state of every bandit split of a document: the
// same allocation the engine uses (same counts, same seed).
func (h *Handler) banditSplits(ctx context.Context, journeyID string, doc *flows.Journey) ([]banditSplitJSON, error) {
	freezes, err := h.store.SplitFreezes(ctx, journeyID)
	if err != nil {
		return nil, err
	}
	frozen := map[string]store.SplitFreeze{}
	for _, f := range freezes {
		frozen[f.NodeID] = f
	}
	out := []banditSplitJSON{}
	for _, si := range splitNodes(doc) {
		if si.Strategy != "bandit" {
			continue
		}
		counts, err := h.store.SplitCounts(ctx, journeyID, si.ID)
		if err != nil {
			return nil, err
		}
		f := frozen[si.ID]
		a := worker.BanditAllocation(journeyID, si.ID, si.Variants, counts, float64(si.MinShare)/100, f.Variant)
		b := banditSplitJSON{NodeID: si.ID, Title: si.Title, MinShare: float64(si.MinShare) / 100, HoldoutPct: si.Holdout,
			Frozen: a.Frozen, Arms: a.Arms}
		if a.Frozen != "" {
			b.FrozenBy = f.FrozenBy
		}
		for _, c := range counts {
			if c.Variant == "holdout" {
				b.Holdout = holdoutJSON{Runs: c.Runs, Conversions: c.Conversions}
			}
		}
		best := -1.0
		for _, arm := range a.Arms {
			if arm.ProbBest > best {
				best, b.Leader = arm.ProbBest, arm.Name
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// journeyBandits: GET /journeys/:id/splits.json?version=N — the canvas's
// view of its bandit splits (version 0 or absent: the live version, else
// the draft).
func (h *Handler) journeyBandits(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	j, err := h.store.GetJourney(ctx, ws, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	version, err := strconv.Atoi(c.Query("version", "0"))
	if err != nil || version < 0 {
		return httpkit.BadRequest("version: want a version number, got %q", c.Query("version"))
	}
	if version == 0 {
		version = j.LiveVersion
	}
	doc, err := h.journeys.Document(ctx, ws, j.ID, version)
	if err != nil {
		return httpkit.JourneyError(err)
	}
	splits, err := h.banditSplits(ctx, j.ID, doc)
	if err != nil {
		return err
	}
	return c.JSON(banditJSON{JourneyID: j.ID, Version: version, CanFreeze: canEdit(c), Splits: splits})
}

// splitFreeze: POST /journeys/:id/splits/:node/freeze (editors) with
// variant=<name> — all non-holdout traffic of the bandit split goes to it.
func (h *Handler) splitFreeze(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	j, err := h.store.GetJourney(ctx, ws, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	nodeID, variant := c.Params("node"), strings.TrimSpace(c.FormValue("variant"))
	if variant == "" {
		var body struct {
			Variant string `json:"variant"`
		}
		if len(c.Body()) > 0 && strings.HasPrefix(string(c.Request().Header.ContentType()), fiber.MIMEApplicationJSON) {
			if err := c.BodyParser(&body); err != nil {
				return httpkit.BadRequest("body: %v", err)
			}
		}
		variant = strings.TrimSpace(body.Variant)
	}
	si, err := h.banditNode(ctx, ws, j, nodeID)
	if err != nil {
		return err
	}
	found := false
	for _, v := range si.Variants {
		found = found || v == variant
	}
	if !found {
		return &httpkit.Error{Status: fiber.StatusUnprocessableEntity, Code: "invalid_variant",
			Message: fmt.Sprintf("variant %q is not a variant of split %q (want one of %s)", variant, nodeID, strings.Join(si.Variants, ", ")),
			Details: []httpkit.Detail{{NodeID: nodeID, Field: "variant", Message: "unknown variant"}}}
	}
	f, err := h.store.FreezeSplit(ctx, store.SplitFreeze{JourneyID: j.ID, NodeID: nodeID, Variant: variant, FrozenBy: httpkit.ActorName(c)})
	if err != nil {
		return err
	}
	if err := httpkit.Audit(c, h.store, "journey.split_freeze", "journey", j.ID, map[string]any{"node_id": nodeID, "variant": variant}); err != nil {
		return err
	}
	return c.JSON(map[string]any{"node_id": f.NodeID, "frozen": f.Variant, "frozen_by": f.FrozenBy, "frozen_at": f.FrozenAt})
}

// splitUnfreeze: POST /journeys/:id/splits/:node/unfreeze (editors) — the
// bandit decides again.
func (h *Handler) splitUnfreeze(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	j, err := h.store.GetJourney(ctx, ws, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	nodeID := c.Params("node")
	if _, err := h.banditNode(ctx, ws, j, nodeID); err != nil {
		return err
	}
	was, err := h.store.UnfreezeSplit(ctx, j.ID, nodeID)
	if err != nil {
		return err
	}
	if was {
		if err := httpkit.Audit(c, h.store, "journey.split_unfreeze", "journey", j.ID, map[string]any{"node_id": nodeID}); err != nil {
			return err
		}
	}
	return c.JSON(map[string]any{"node_id": nodeID, "frozen": ""})
}

// banditNode finds a bandit split in the journey's live version (else its
// draft), or answers 404/422.
func (h *Handler) banditNode(ctx context.Context, ws string, j store.Journey, nodeID string) (splitInfo, error) {
	doc, err := h.journeys.Document(ctx, ws, j.ID, j.LiveVersion)
	if err != nil {
		return splitInfo{}, httpkit.JourneyError(err)
	}
	for _, si := range splitNodes(doc) {
		if si.ID != nodeID {
			continue
		}
		if si.Strategy != "bandit" {
			return splitInfo{}, &httpkit.Error{Status: fiber.StatusUnprocessableEntity, Code: "not_bandit",
				Message: fmt.Sprintf("split %q uses strategy %q; only a bandit split can be frozen", nodeID, si.Strategy),
				Details: []httpkit.Detail{{NodeID: nodeID, Field: "strategy", Message: "not bandit"}}}
		}
		return si, nil
	}
	return splitInfo{}, httpkit.NotFound(fmt.Sprintf("split node %q", nodeID))
}

// liftView is the report page's lift section.
func (h *Handler) liftView(ctx context.Context, ws, journeyID string) (views.LiftView, error) {
	l, err := h.reports.Lift(ctx, ws, journeyID)
	if err != nil {
		return views.LiftView{}, err
	}
	v := views.LiftView{JourneyID: journeyID}
	row := func(label string, x learn.Lift) views.LiftRow {
		r := views.LiftRow{Label: label,
			Treatment: fmt.Sprintf("%d/%d = %s", x.TreatmentConversions, x.TreatmentRuns, pct(x.TreatmentRate)),
			Holdout:   fmt.Sprintf("%d/%d = %s", x.HoldoutConversions, x.HoldoutRuns, pct(x.HoldoutRate)),
			Absolute:  fmt.Sprintf("%+.2f pp (%+.2f to %+.2f)", 100*x.Absolute, 100*x.AbsoluteLow, 100*x.AbsoluteHigh),
			Relative:  "–", Significant: x.Significant}
		if !x.OK {
			r.Absolute = "not enough runs yet"
		}
		if x.RelativeOK {
			r.Relative = fmt.Sprintf("%+.1f%% (%+.1f%% to %+.1f%%)", 100*x.Relative, 100*x.RelativeLow, 100*x.RelativeHigh)
		}
		return r
	}
	if l.Overall != nil {
		v.Rows = append(v.Rows, row("Journey (all splits with a holdout)", *l.Overall))
	}
	for _, sp := range l.Splits {
		v.Rows = append(v.Rows, row(sp.NodeID+" · all variants", sp.Treatment))
		for _, vr := range sp.Variants {
			v.Rows = append(v.Rows, row(sp.NodeID+" · "+vr.Variant, vr.Lift))
		}
	}
	return v, nil
}

// profileBestHour is the profile page's learned engagement hour: the
// profile's engagement histogram as the best-time delay reads it.
func (h *Handler) profileBestHour(ctx context.Context, p store.Profile) (views.BestHourView, error) {
	loc := time.UTC
	if p.Timezone != "" {
		if l, err := time.LoadLocation(p.Timezone); err == nil {
			loc = l
		}
	}
	names := worker.DefaultEngagementEvents
	hp, err := h.learning.ProfileHours(ctx, p.ID, names, loc) // the engine's own reading (worker/besttime.go)
	if err != nil {
		return views.BestHourView{}, err
	}
	v := views.BestHourView{Timezone: loc.String(), Events: strings.Join(names, ", "), Evidence: hp.Evidence,
		Needed: worker.MinProfileEvidence, Lookback: int(worker.EngagementLookback / (24 * time.Hour))}
	if h, share, ok := hp.Best(); ok {
		v.Hour, v.Learned = fmt.Sprintf("%02d:00–%02d:59", h, h), hp.Evidence >= worker.MinProfileEvidence
		v.Share = pct(share)
	}
	scores := hp.Scores()
	top := 0.0
	for _, sc := range scores {
		top = max(top, sc)
	}
	if top > 0 {
		ch := views.Chart{Width: chartW, Height: 90, Title: "Engagement by local hour"}
		slot := float64(chartW-chartLeft) / 24
		for h := 0; h < 24; h++ {
			bh := 60 * scores[h] / top
			ch.Bars = append(ch.Bars, views.Bar{X: chartLeft + float64(h)*slot, Y: 64 - bh, W: slot - 2, H: bh, Class: "bar-entries",
				Title: fmt.Sprintf("%02d:00: %d events", h, hp.Counts[h])})
			if h%3 == 0 {
				ch.Axis = append(ch.Axis, views.Label{X: chartLeft + float64(h)*slot, Y: 82, Text: fmt.Sprintf("%02d", h)})
			}
		}
		v.Chart, v.HasChart = ch, true
	}
	return v, nil
}
