package web

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"net/url"
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

// auditPage: GET /audit?action=&actor=&target=&from=&to=&before=
func (h *Handler) auditPage(c *fiber.Ctx) error {
	q, st, err := auditQuery(c)
	if err != nil {
		return err
	}
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
		st.Rows = append(st.Rows, views.AuditRow{ID: e.ID, When: e.CreatedAt.UTC().Format("2006-01-02 15:04:05"),
			Actor: e.ActorType + ":" + e.ActorID, Action: e.Action, Target: e.TargetType + ":" + e.TargetID,
			Summary: summaryJSON(e.Summary), IP: e.IP})
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
