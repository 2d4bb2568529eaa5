package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/jsonlimit"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
	"github.com/waymarkhq/waymark/worker"
)

// explorerStore is what the run explorer, the Profiles page and the
// profile page read.
type explorerStore interface {
	ListRuns(ctx context.Context, workspaceID string, f store.RunFilter) ([]store.Run, string, error)
	GetWorkspaceRun(ctx context.Context, workspaceID, id string) (store.Run, error)
	ListRunSteps(ctx context.Context, runID string) ([]store.RunStep, error)
	ListDeliveries(ctx context.Context, workspaceID string, f store.DeliveryFilter) ([]store.Delivery, string, error)
	GetProfile(ctx context.Context, id string) (store.Profile, error)
	GetProfileByExternalID(ctx context.Context, workspaceID, externalID string) (store.Profile, error)
	ListRecentProfileEvents(ctx context.Context, profileID string, limit int) ([]store.Event, error)
	FindProfilesByEmail(ctx context.Context, workspaceID, email string, limit int) ([]store.Profile, error)
	ListProfiles(ctx context.Context, workspaceID string, q store.ProfileQuery) (store.ProfileList, error)
}

const runsPageSize = 50

func runTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func runTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return runTime(*t)
}

// rowsFor turns runs into rows, looking each journey, version and
// profile up once.
func (h *Handler) rowsFor(ctx context.Context, ws string, runs []store.Run) ([]views.RunRow, error) {
	return h.rowsWith(ctx, ws, runs, h.versionSteps(ws))
}

func (h *Handler) rowsWith(ctx context.Context, ws string, runs []store.Run, steps *versionSteps) ([]views.RunRow, error) {
	names := map[string]string{}
	exts := map[string]string{}
	out := make([]views.RunRow, len(runs))
	for i, r := range runs {
		name, ok := names[r.JourneyID]
		if !ok {
			j, err := h.store.GetJourney(ctx, ws, r.JourneyID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			name = j.Name
			if name == "" {
				name = r.JourneyID
			}
			names[r.JourneyID] = name
		}
		ext, ok := exts[r.ProfileID]
		if !ok {
			p, err := h.store.GetProfile(ctx, r.ProfileID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			if p.ErasedAt == nil {
				ext = p.ExternalID
			}
			exts[r.ProfileID] = ext
		}
		sn, err := steps.of(ctx, r.JourneyID, r.Version)
		if err != nil {
			return nil, err
		}
		out[i] = views.RunRow{ID: r.ID, JourneyID: r.JourneyID, JourneyName: name, Version: r.Version, ProfileExt: ext, Status: r.Status,
			CurrentNode: r.CurrentNode, CurrentTitle: sn.name(r.CurrentNode), EnteredAt: runTime(r.EnteredAt), UpdatedAt: runTime(r.UpdatedAt), Error: r.Error}
	}
	return out, nil
}

// runList: GET /runs?journey_id=&profile=&email=&status=&node=&cursor=
func (h *Handler) runList(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	u, _ := httpkit.User(c)
	st := views.RunsPage{
		Journey: strings.TrimSpace(c.Query("journey_id")), Profile: strings.TrimSpace(c.Query("profile")),
		Email: strings.TrimSpace(c.Query("email")), Status: c.Query("status"), Node: strings.TrimSpace(c.Query("node")),
		Statuses:     []string{store.RunActive, store.RunWaiting, store.RunWaitingEvent, store.RunPaused, store.RunCompleted, store.RunExited, store.RunFailed},
		LinkProfiles: httpkit.RoleAllows(u.Role, httpkit.PermProfilesRead),
	}
	if !httpkit.RunStatusFilter(st.Status) {
		return httpkit.BadRequest("status: want active, waiting, waiting_event, paused, completed, exited or failed")
	}
	f := store.RunFilter{JourneyID: st.Journey, Status: st.Status, NodeID: st.Node, After: c.Query("cursor"), Limit: runsPageSize}
	if st.Profile != "" {
		p, err := h.store.GetProfileByExternalID(ctx, ws, st.Profile)
		switch {
		case errors.Is(err, store.ErrNotFound):
			st.Problem = fmt.Sprintf("No profile has the id %q.", st.Profile)
			f.ProfileIDs = []string{}
		case err != nil:
			return err
		default:
			f.ProfileID = p.ID
		}
	}
	if st.Email != "" {
		if !httpkit.RoleAllows(u.Role, httpkit.PermProfilesRead) {
			return httpkit.NewError(fiber.StatusForbidden, "forbidden", "your role (%s) may not search profiles by email; filter by profile id", u.Role)
		}
		ps, err := h.store.FindProfilesByEmail(ctx, ws, st.Email, 50)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(ps))
		for _, p := range ps {
			if f.ProfileID == "" || f.ProfileID == p.ID {
				ids = append(ids, p.ID)
			}
		}
		if len(ps) == 0 {
			st.Problem = fmt.Sprintf("No profile has the email %q.", st.Email)
		}
		f.ProfileIDs = ids
	}
	runs, next, err := h.store.ListRuns(ctx, ws, f)
	if err != nil {
		return err
	}
	if st.Rows, err = h.rowsFor(ctx, ws, runs); err != nil {
		return err
	}
	if next != "" {
		v := url.Values{}
		for k, val := range map[string]string{"journey_id": st.Journey, "profile": st.Profile, "email": st.Email, "status": st.Status, "node": st.Node, "cursor": next} {
			if val != "" {
				v.Set(k, val)
			}
		}
		st.NextURL = "/runs?" + v.Encode()
	}
	js, _, err := h.store.ListJourneys(ctx, ws, store.JourneyFilter{Status: "all", Limit: 200})
	if err != nil {
		return err
	}
	for _, j := range js {
		st.Journeys = append(st.Journeys, views.Option{Value: j.ID, Label: j.Name})
		if j.ID == st.Journey {
			if st.Steps, err = h.stepOptions(ctx, ws, j, st.Node); err != nil {
				return err
			}
		}
	}
	return render(c, views.RunsList(h.appPageScripts(c, "Runs"), st))
}

// stepOptions lists the steps of a journey's live version (its draft
// before the first publish) by title for the "At step" filter; a step
// id already chosen that the version lacks stays a choice.
func (h *Handler) stepOptions(ctx context.Context, ws string, j store.Journey, chosen string) ([]views.Option, error) {
	doc, err := h.journeys.Document(ctx, ws, j.ID, j.LiveVersion)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := stepChoices(h.journeys.Registry(), doc, true)
	if chosen != "" && !slices.ContainsFunc(out, func(o views.Option) bool { return o.Value == chosen }) {
		out = append(out, views.Option{Value: chosen, Label: chosen})
	}
	return out, nil
}

// detailKV renders a step's detail values as text, sorted by key; the
// error and the delivery id get their own places.
func detailKV(d map[string]any) (kvs []views.KV, errText, deliveryID string) {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := d[k]
		switch k {
		case "error":
			errText = fmt.Sprint(v)
			continue
		case "delivery_id":
			deliveryID, _ = v.(string)
			continue
		}
		kvs = append(kvs, views.KV{Key: k, Value: jsonText(v)})
	}
	return kvs, errText, deliveryID
}

// Stored JSON is shown within these sizes, cut with a visible marker
// (jsonlimit.Clip): a value inline (a step's detail, an attribute, an
// event's properties) and a run's entry event, indented.
const (
	maxShownValue = 8 << 10
	maxShownEntry = 64 << 10
)

// jsonText shows a value as compact JSON text, at most maxShownValue
// bytes, without JSON's HTML escapes (the page escapes it; \u003c would
// only hide what the data says).
func jsonText(v any) string {
	if s, ok := v.(string); ok {
		return jsonlimit.Clip(s, maxShownValue, 0)
	}
	b, err := compactJSON(v)
	if err != nil {
		return jsonlimit.Clip(fmt.Sprint(v), maxShownValue, 0)
	}
	return jsonlimit.Clip(string(b), maxShownValue, 0)
}

// compactJSON encodes v without HTML escapes or a final newline: linear in
// the value's size, whatever its depth.
func compactJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// entryText shows a stored entry event indented, within maxShownEntry
// bytes. Indentation stops deepening after jsonlimit.IndentLevels levels,
// so a deep document (stored before bodies were limited to
// jsonlimit.MaxDepth levels) costs its size, not its size squared.
func entryText(raw []byte) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return jsonlimit.Clip(string(raw), maxShownEntry, 0)
	}
	b, err := compactJSON(v)
	if err != nil {
		return jsonlimit.Clip(string(raw), maxShownEntry, 0)
	}
	return jsonlimit.Pretty(b, maxShownEntry)
}

// deliveryRows lists messages; personal false leaves out the recipient and
// the subject (rendered per profile, it may carry personal data), as the
// deliveries CSV does for roles without profiles:read. step names a
// message's step (run id, node id).
func deliveryRows(ds []store.Delivery, personal bool, step func(runID, nodeID string) string) []views.DeliveryRow {
	out := make([]views.DeliveryRow, len(ds))
	for i, d := range ds {
		out[i] = views.DeliveryRow{ID: d.ID, RunID: d.RunID, Seq: d.Sequence, NodeID: d.NodeID, NodeTitle: step(d.RunID, d.NodeID), Channel: d.Channel, Connector: d.Connector,
			Status: d.Status, Error: d.Error, Attempts: d.Attempts, Created: runTime(d.CreatedAt)}
		if personal {
			out[i].Recipient, out[i].Subject = d.Recipient, d.Subject
		}
	}
	return out
}

// runShow: GET /runs/:id, the run's timeline.
func (h *Handler) runShow(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	r, err := h.store.GetWorkspaceRun(ctx, ws, c.Params("id"))
	if err != nil {
		return httpkit.RunError(err)
	}
	vs := h.versionSteps(ws)
	rows, err := h.rowsWith(ctx, ws, []store.Run{r}, vs)
	if err != nil {
		return err
	}
	names, err := vs.of(ctx, r.JourneyID, r.Version)
	if err != nil {
		return err
	}
	u, _ := httpkit.User(c)
	st := views.RunPage{Run: rows[0], WaitUntil: runTimePtr(r.WaitUntil), WaitEvent: r.WaitEvent, FinishedAt: runTimePtr(r.FinishedAt),
		LinkProfiles: httpkit.RoleAllows(u.Role, httpkit.PermProfilesRead)}
	if r.ConvertedAt != nil {
		st.Converted = runTime(*r.ConvertedAt)
		if r.ConversionValue != 0 {
			st.Converted += fmt.Sprintf(" (value %g)", r.ConversionValue)
		}
	}
	canMove := httpkit.RoleAllows(u.Role, httpkit.PermAdmin) && (!r.Final() || r.Status == store.RunFailed)
	if canMove {
		if doc, err := h.journeys.Document(ctx, ws, r.JourneyID, r.Version); err == nil {
			st.MoveTargets = moveTargets(h.journeys.Registry(), doc)
		}
	}
	steps, err := h.store.ListRunSteps(ctx, r.ID)
	if err != nil {
		return err
	}
	// Recipients, subjects, the entry event and the attribute values a step
	// wrote are personal data: profile readers only (docs/security.md).
	st.Personal = httpkit.RoleAllows(u.Role, httpkit.PermProfilesRead)
	for _, step := range steps {
		kvs, errText, did := detailKV(step.Detail)
		title, ok := names[step.NodeID]
		if !ok { // a step of the version the run was moved from
			title = kindTitle(h.journeys.Registry(), step.Kind)
		}
		row := views.StepRow{Seq: step.Sequence, Time: runTime(step.FinishedAt), NodeID: step.NodeID, NodeTitle: title,
			Kind: step.Kind, Port: step.Port, Outcome: step.Outcome, Details: kvs, Error: errText, DeliveryID: did}
		if !st.Personal && httpkit.PersonalStep(step.Kind) && len(kvs) > 0 {
			row.Details, row.DetailsHidden = nil, true
		}
		st.Steps = append(st.Steps, row)
	}
	ds, _, err := h.store.ListDeliveries(ctx, ws, store.DeliveryFilter{RunID: r.ID, Limit: 500})
	if err != nil {
		return err
	}
	st.Deliveries = deliveryRows(ds, st.Personal, func(_, node string) string { return names.name(node) })
	if st.Personal && len(r.EntryEvent) > 0 {
		st.Entry = entryText(r.EntryEvent)
	}
	editor := canEdit(c)
	st.CanCancel = editor && !r.Final()
	st.CanRetry = editor && r.Status == store.RunFailed
	switch c.Query("done") {
	case "cancelled":
		st.Notice = "The run was cancelled."
	case "retried":
		st.Notice = "The run is retrying from its failed step."
	case "moved":
		st.Notice = "The run was moved to “" + names.name(r.CurrentNode) + "”"
		if names.name(r.CurrentNode) != r.CurrentNode {
			st.Notice += " (" + r.CurrentNode + ")"
		}
		st.Notice += "."
	}
	return render(c, views.RunView(h.appPageScripts(c, "Run "+r.ID), st))
}

// runCancel: POST /runs/:id/cancel (editors and admins; audited).
func (h *Handler) runCancel(c *fiber.Ctx) error {
	r, err := h.engine.CancelRun(c.UserContext(), httpkit.Workspace(c), c.Params("id"), "cancelled by "+httpkit.ActorName(c))
	if err != nil {
		return httpkit.RunError(err)
	}
	if err := httpkit.Audit(c, h.store, "run.cancel", "run", r.ID, map[string]any{"journey_id": r.JourneyID}); err != nil {
		return err
	}
	return c.Redirect("/runs/"+url.PathEscape(r.ID)+"?done=cancelled", fiber.StatusSeeOther)
}

// runRetry: POST /runs/:id/retry (failed runs; editors and admins; audited).
func (h *Handler) runRetry(c *fiber.Ctx) error {
	r, err := h.engine.RetryRun(c.UserContext(), httpkit.Workspace(c), c.Params("id"))
	if err != nil {
		return httpkit.RunError(err)
	}
	if err := httpkit.Audit(c, h.store, "run.retry", "run", r.ID, map[string]any{"journey_id": r.JourneyID, "node_id": r.CurrentNode}); err != nil {
		return err
	}
	return c.Redirect("/runs/"+url.PathEscape(r.ID)+"?done=retried", fiber.StatusSeeOther)
}

// runMove: POST /runs/:id/move (admins; audited) — put a live or failed
// run at another node of its version, the UI twin of POST
// /api/v1/runs/{id}/move.
func (h *Handler) runMove(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	node := c.FormValue("node_id")
	if node == "" {
		return httpkit.NewError(fiber.StatusUnprocessableEntity, "invalid", "node_id: choose the step to move the run to")
	}
	before, err := h.store.GetWorkspaceRun(ctx, ws, c.Params("id"))
	if err != nil {
		return httpkit.RunError(err)
	}
	r, err := h.engine.MoveRun(ctx, ws, before.ID, node, httpkit.ActorName(c))
	if errors.Is(err, worker.ErrNoSuchNode) {
		return httpkit.NewError(fiber.StatusUnprocessableEntity, "invalid", "node_id: %q is not a step this run's version can move to", node)
	}
	if err != nil {
		return httpkit.RunError(err)
	}
	if err := httpkit.Audit(c, h.store, "run.move", "run", r.ID, map[string]any{"journey_id": r.JourneyID, "from": before.CurrentNode, "to": r.CurrentNode}); err != nil {
		return err
	}
	return c.Redirect("/runs/"+url.PathEscape(r.ID)+"?done=moved", fiber.StatusSeeOther)
}

// profileShow: GET /profiles/:external_id (profile readers).
func (h *Handler) profileShow(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	ext, err := httpkit.ExternalIDParam(c)
	if err != nil {
		return err
	}
	p, err := h.store.GetProfileByExternalID(ctx, ws, ext)
	if errors.Is(err, store.ErrNotFound) || (err == nil && p.ErasedAt != nil) {
		return httpkit.NotFound("profile")
	}
	if err != nil {
		return err
	}
	st := views.ProfilePage{ExternalID: p.ExternalID, Email: p.Email, Phone: p.Phone, Timezone: p.Timezone, Locale: p.Locale,
		Created: runTime(p.CreatedAt), Updated: runTime(p.UpdatedAt), Attributes: sortedKV(p.Attributes), Consent: sortedKV(p.Consent)}
	evs, err := h.store.ListRecentProfileEvents(ctx, p.ID, 50)
	if err != nil {
		return err
	}
	for _, e := range evs {
		st.Events = append(st.Events, views.EventRow{Name: e.Name, OccurredAt: runTime(e.OccurredAt), Properties: jsonText(e.Properties)})
	}
	runs, _, err := h.store.ListRuns(ctx, ws, store.RunFilter{ProfileID: p.ID, Limit: 100})
	if err != nil {
		return err
	}
	vs := h.versionSteps(ws)
	if st.Runs, err = h.rowsWith(ctx, ws, runs, vs); err != nil {
		return err
	}
	ds, _, err := h.store.ListDeliveries(ctx, ws, store.DeliveryFilter{ProfileID: p.ID, Limit: 100})
	if err != nil {
		return err
	}
	// A message's step is named from its run's version (the runs above;
	// an older run's message keeps its node id).
	stepOf := map[string]stepNames{}
	for _, r := range runs {
		if stepOf[r.ID], err = vs.of(ctx, r.JourneyID, r.Version); err != nil {
			return err
		}
	}
	// The page is for profile readers: recipients and subjects shown.
	st.Deliveries = deliveryRows(ds, true, func(run, node string) string { return stepOf[run].name(node) })
	if st.BestHour, err = h.profileBestHour(ctx, p); err != nil { // ui/intelligence.go
		return err
	}
	return render(c, views.ProfileView(h.appPageScripts(c, "Profile "+p.ExternalID), st))
}

// moveTargets are the steps an admin may move a run to (not triggers).
func moveTargets(reg *nodes.Registry, doc *flows.Journey) []views.KV {
	var out []views.KV
	for _, o := range stepChoices(reg, doc, false) {
		out = append(out, views.KV{Key: o.Value, Value: o.Label})
	}
	return out
}

// stepChoices lists a version's steps by title, the id beside a title
// two steps share.
func stepChoices(reg *nodes.Registry, doc *flows.Journey, triggers bool) []views.Option {
	names := newStepNames(reg, doc)
	seen := map[string]int{}
	for _, n := range doc.Nodes {
		seen[names[n.ID]]++
	}
	var out []views.Option
	for _, n := range doc.Nodes {
		if !triggers && strings.HasPrefix(n.Kind, "trigger") {
			continue
		}
		label := names[n.ID]
		if seen[label] > 1 && label != n.ID {
			label += " (" + n.ID + ")"
		}
		out = append(out, views.Option{Value: n.ID, Label: label})
	}
	return out
}

func sortedKV(m map[string]any) []views.KV {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]views.KV, len(keys))
	for i, k := range keys {
		out[i] = views.KV{Key: k, Value: jsonText(m[k])}
	}
	return out
}
