package web

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

const auditPageSize = 100

// auditQuery reads the filters shared by the page and the CSV export.
func auditQuery(c *fiber.Ctx) (store.AuditQuery, views.AuditPage, error) {
	st := views.AuditPage{
		Action: strings.TrimSpace(c.Query("action")), Actor: strings.TrimSpace(c.Query("actor")),
		Target: strings.TrimSpace(c.Query("target")), From: c.Query("from"), To: c.Query("to"), Errors: views.FieldErrors{},
	}
	q := store.AuditQuery{Action: st.Action, ActorID: st.Actor, TargetID: st.Target}
	var details []httpkit.Detail
	for _, f := range []struct {
		name, val string
		dst       *time.Time
		add       time.Duration
	}{{"from", st.From, &q.From, 0}, {"to", st.To, &q.To, 24 * time.Hour}} {
		if f.val == "" {
			continue
		}
		t, err := time.Parse("2006-01-02", f.val)
		if err != nil {
			st.Errors[f.name] = f.name + ": want a date as YYYY-MM-DD"
			details = append(details, httpkit.Detail{Field: f.name, Message: "want a date as YYYY-MM-DD, got " + strconv.Quote(f.val)})
			continue
		}
		*f.dst = t.Add(f.add) // "to" includes its whole day
	}
	if b := c.Query("before"); b != "" {
		id, err := strconv.ParseInt(b, 10, 64)
		if err != nil || id <= 0 {
			details = append(details, httpkit.Detail{Field: "before", Message: "want a positive entry id"})
		}
		q.BeforeID = id
	}
	if len(details) > 0 {
		return q, st, &httpkit.Error{Status: fiber.StatusBadRequest, Code: "invalid_filter", Message: details[0].Field + ": " + details[0].Message, Details: details}
	}
	return q, st, nil
}

func auditFilterValues(st views.AuditPage) url.Values {
	v := url.Values{}
	for k, val := range map[string]string{"action": st.Action, "actor": st.Actor, "target": st.Target, "from": st.From, "to": st.To} {
		if val != "" {
			v.Set(k, val)
		}
	}
	return v
}

func summaryJSON(m map[string]any) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// summaryLines writes an entry's summary as "Label: value" lines, by key
// ("from_version" → "From version"); nested objects read "Role › From".
func summaryLines(m map[string]any) []string {
	var out []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		// before/from read before after/to; the rest alphabetically.
		rank := func(k string) int {
			switch k {
			case "before", "from", "old":
				return 0
			case "after", "to", "new":
				return 2
			}
			return 1
		}
		sort.Slice(keys, func(a, b int) bool {
			if ra, rb := rank(keys[a]), rank(keys[b]); ra != rb {
				return ra < rb
			}
			return keys[a] < keys[b]
		})
		for _, k := range keys {
			label := humanize(k)
			if prefix != "" {
				label = prefix + " › " + label
			}
			switch v := m[k].(type) {
			case map[string]any:
				walk(label, v)
			default:
				out = append(out, label+": "+summaryValue(v))
			}
		}
	}
	walk("", m)
	return out
}

func summaryValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "none"
	case string:
		if v == "" {
			return "(empty)"
		}
		return v
	case bool:
		if v {
			return "yes"
		}
		return "no"
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = summaryValue(e)
		}
		return strings.Join(parts, ", ")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// auditNames says who and what an entry is about: users by email, API
// keys and journeys by name; read once per page.
type auditNames struct {
	h        *Handler
	ctx      context.Context
	ws       string
	users    map[string]store.User
	keys     map[string]store.APIKey
	journeys map[string]string
}

func (h *Handler) auditNames(c *fiber.Ctx) (*auditNames, error) {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	n := &auditNames{h: h, ctx: ctx, ws: ws, users: map[string]store.User{}, keys: map[string]store.APIKey{}, journeys: map[string]string{}}
	users, err := h.store.ListUsers(ctx, ws)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		n.users[u.ID] = u
	}
	keys, err := h.store.ListAPIKeys(ctx, ws)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		n.keys[k.ID] = k
	}
	return n, nil
}

// who names an actor or a target: "mara@example.com", "API key “CI”",
// "Journey “Welcome”", "Command line"; ok is false when it could only
// say the machine id.
func (n *auditNames) who(typ, id string) (string, bool) {
	switch typ {
	case "user":
		if u, ok := n.users[id]; ok {
			return u.Email, true
		}
		return "Deleted user " + id, false
	case "api_key":
		if k, ok := n.keys[id]; ok {
			return "API key “" + k.Name + "”", true
		}
		return "API key " + id, false
	case "system":
		if id == "cli" {
			return "Command line (waymark)", true
		}
		return "System", true
	case "journey":
		name, seen := n.journeys[id]
		if !seen {
			if j, err := n.h.store.GetJourney(n.ctx, n.ws, id); err == nil {
				name = j.Name
			}
			n.journeys[id] = name
		}
		if name != "" {
			return "Journey “" + name + "”", true
		}
		return "Journey " + id, false
	case "profile":
		return "Profile " + id, true
	case "":
		return id, id != ""
	}
	return humanize(typ) + " " + id, false
}

// actorID turns the actor filter into an actor id: a user's email (any
// case), an API key's name, or an id as it is.
func (n *auditNames) actorID(actor string) string {
	if strings.Contains(actor, "@") {
		for _, u := range n.users {
			if strings.EqualFold(u.Email, actor) {
				return u.ID
			}
		}
		return actor
	}
	for _, k := range n.keys {
		if k.Name == actor {
			return k.ID
		}
	}
	return actor
}

// auditPage: GET /audit?action=&actor=&target=&from=&to=&before=; the
// actor filter takes a user's email or an API key's name as well as an
// id.
func (h *Handler) auditPage(c *fiber.Ctx) error {
	q, st, err := auditQuery(c)
	if err != nil {
		return err
	}
	names, err := h.auditNames(c)
	if err != nil {
		return err
	}
	q.ActorID = names.actorID(q.ActorID)
	for _, u := range names.users {
		st.Emails = append(st.Emails, u.Email)
	}
	sort.Strings(st.Emails)
	q.Limit = auditPageSize + 1
	list, err := h.store.QueryAudit(c.UserContext(), httpkit.Workspace(c), q)
	if err != nil {
		return err
	}
	vals := auditFilterValues(st)
	if len(list) > auditPageSize {
		list = list[:auditPageSize]
		next := auditFilterValues(st)
		next.Set("before", strconv.FormatInt(list[len(list)-1].ID, 10))
		st.NextURL = "/audit?" + next.Encode()
	}
	st.CSVURL = "/audit.csv?" + vals.Encode()
	for _, e := range list {
		actor, _ := names.who(e.ActorType, e.ActorID)
		target, _ := names.who(e.TargetType, e.TargetID)
		st.Rows = append(st.Rows, views.AuditRow{ID: e.ID, When: e.CreatedAt.UTC().Format("2006-01-02 15:04:05"),
			Actor: actor, ActorID: e.ActorType + ":" + e.ActorID, Action: e.Action, Target: target, TargetID: e.TargetType + ":" + e.TargetID,
			Summary: summaryLines(e.Summary), IP: e.IP})
	}
	return render(c, views.Audit(h.page(c, "Audit log"), st))
}

// auditCSV: GET /audit.csv with the page's filters — every matching entry,
// streamed row by row.
func (h *Handler) auditCSV(c *fiber.Ctx) error {
	q, _, err := auditQuery(c)
	if err != nil {
		return err
	}
	names, err := h.auditNames(c)
	if err != nil {
		return err
	}
	q.ActorID = names.actorID(q.ActorID)
	ws := httpkit.Workspace(c)
	st := h.store
	ctx, cancel := httpkit.DetachedContext(c, httpkit.ExportTimeout) // the rows are written after the handler returns
	logger := h.logger
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="waymark-audit-`+h.cfg.Now().UTC().Format("20060102-150405")+`.csv"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Context().SetBodyStreamWriter(fasthttp.StreamWriter(func(w *bufio.Writer) {
		defer cancel()
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"id", "created_at", "actor_type", "actor_id", "action", "target_type", "target_id", "summary", "ip"})
		err := st.EachAudit(ctx, ws, q, func(e store.AuditEntry) error {
			cw.Write([]string{strconv.FormatInt(e.ID, 10), e.CreatedAt.UTC().Format(time.RFC3339), httpkit.CSVSafe(e.ActorType), httpkit.CSVSafe(e.ActorID),
				httpkit.CSVSafe(e.Action), httpkit.CSVSafe(e.TargetType), httpkit.CSVSafe(e.TargetID), httpkit.CSVSafe(summaryJSON(e.Summary)), httpkit.CSVSafe(e.IP)})
			cw.Flush()
			return cw.Error()
		})
		cw.Flush()
		if err != nil {
			logger.ErrorContext(ctx, "exporting audit log", slog.String("error", err.Error()))
		}
	}))
	return nil
}
