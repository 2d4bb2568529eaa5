package httpkit

import (
	"bufio"
	"context"
	"encoding/csv"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/waymarkhq/waymark/store"
)

// ExportStore is what the CSV exports read: the journey, then keyset
// pages, one at a time.
type ExportStore interface {
	GetJourney(ctx context.Context, workspaceID, id string) (store.Journey, error)
	EachJourneyRun(ctx context.Context, workspaceID, journeyID string, p store.Period, fn func(store.RunExport) error) error
	EachJourneyDelivery(ctx context.Context, workspaceID, journeyID string, p store.Period, fn func(store.Delivery) error) error
}

// Exports streams a journey's runs and deliveries as CSV; the UI and the
// API serve the same files.
type Exports struct {
	Store  ExportStore
	Logger *slog.Logger
	Now    func() time.Time
}

// ExportPeriod reads ?from=&to=: a date (YYYY-MM-DD; "to" includes its
// whole day) or an RFC 3339 time (to exclusive).
func ExportPeriod(c *fiber.Ctx) (store.Period, error) {
	var p store.Period
	for _, f := range []struct {
		name string
		dst  *time.Time
		day  time.Duration
	}{{"from", &p.From, 0}, {"to", &p.To, 24 * time.Hour}} {
		v := c.Query(f.name)
		if v == "" {
			continue
		}
		if t, err := time.Parse("2006-01-02", v); err == nil {
			*f.dst = t.Add(f.day)
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return p, &Error{Status: fiber.StatusBadRequest, Code: "invalid_period",
				Message: f.name + ": want a date (YYYY-MM-DD) or an RFC 3339 time, got " + strconv.Quote(v),
				Details: []Detail{{Field: f.name, Message: "want a date (YYYY-MM-DD) or an RFC 3339 time"}}}
		}
		*f.dst = t
	}
	if !p.From.IsZero() && !p.To.IsZero() && !p.To.After(p.From) {
		return p, &Error{Status: fiber.StatusBadRequest, Code: "invalid_period", Message: "to must be after from",
			Details: []Detail{{Field: "to", Message: "must be after from"}}}
	}
	return p, nil
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func csvTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return csvTime(*t)
}

// stream checks the journey, then streams header and rows written by
// each (one keyset page at a time) as an attachment.
func (x Exports) stream(c *fiber.Ctx, ws, kind string, header []string, each func(ctx context.Context, jid string, p store.Period, row func([]string) error) error) error {
	p, err := ExportPeriod(c)
	if err != nil {
		return err
	}
	j, err := x.Store.GetJourney(c.UserContext(), ws, c.Params("id"))
	if err != nil {
		return JourneyError(err)
	}
	// The rows are written after the handler returns: the stream has a
	// context of its own (the request id stays).
	ctx, cancel := DetachedContext(c, ExportTimeout)
	logger := x.Logger
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="waymark-`+kind+`-`+SafeFilePart(j.ID)+`-`+x.Now().UTC().Format("20060102-150405")+`.csv"`)
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	c.Context().SetBodyStreamWriter(fasthttp.StreamWriter(func(w *bufio.Writer) {
		defer cancel()
		cw := csv.NewWriter(w)
		_ = cw.Write(header)
		n := 0
		err := each(ctx, j.ID, p, func(rec []string) error {
			for i := range rec {
				rec[i] = CSVSafe(rec[i])
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
			if n++; n%200 == 0 {
				cw.Flush()
				if err := cw.Error(); err != nil {
					return err
				}
				return w.Flush() // the client went away: stop reading pages
			}
			return nil
		})
		cw.Flush()
		if err != nil {
			logger.ErrorContext(ctx, "exporting "+kind, slog.String("journey_id", j.ID), slog.String("error", err.Error()))
		}
	}))
	return nil
}

// CSVSafe keeps a cell from being read as a formula by a spreadsheet
// (CSV injection): a cell that starts with = + - @, a tab or a carriage
// return gets a leading '. A plain negative number (-5, -2.5, -.5, -1e-3)
// is left as it is: a spreadsheet reads it as the number it is and runs
// nothing, and the quote would turn it into text (security review F12).
// A leading + keeps its quote even on digits: in Waymark's exports such a
// cell is a phone number (+14155550123), which a spreadsheet would
// otherwise turn into a number without its +.
func CSVSafe(s string) string {
	if s == "" || !strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return s
	}
	if plainNegative.MatchString(s) {
		return s
	}
	return "'" + s
}

var plainNegative = regexp.MustCompile(`^-(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$`)

// SafeFilePart keeps ids that go in a Content-Disposition filename plain.
func SafeFilePart(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Runs streams a journey's runs; personal adds the profile's email and
// phone (the external id is always there: it is what runs are found by).
func (x Exports) Runs(c *fiber.Ctx, ws string, personal bool) error {
	header := []string{"run_id", "journey_id", "version", "profile_external_id"}
	if personal {
		header = append(header, "email", "phone")
	}
	header = append(header, "status", "current_node", "entered_at", "updated_at", "finished_at", "converted_at", "conversion_value", "error")
	st := x.Store
	return x.stream(c, ws, "runs", header, func(ctx context.Context, jid string, p store.Period, row func([]string) error) error {
		return st.EachJourneyRun(ctx, ws, jid, p, func(r store.RunExport) error {
			rec := []string{r.ID, r.JourneyID, strconv.Itoa(r.Version), r.ExternalID}
			if personal {
				rec = append(rec, r.Email, r.Phone)
			}
			conv := ""
			if r.ConvertedAt != nil {
				conv = strconv.FormatFloat(r.ConversionValue, 'f', -1, 64)
			}
			rec = append(rec, r.Status, r.CurrentNode, csvTime(r.EnteredAt), csvTime(r.UpdatedAt), csvTimePtr(r.FinishedAt),
				csvTimePtr(r.ConvertedAt), conv, r.Error)
			return row(rec)
		})
	})
}

// Deliveries streams a journey's messages; personal adds the recipient
// and the subject (rendered per profile, it may carry personal data).
func (x Exports) Deliveries(c *fiber.Ctx, ws string, personal bool) error {
	header := []string{"delivery_id", "run_id", "sequence", "node_id", "channel", "connector"}
	if personal {
		header = append(header, "recipient", "subject")
	}
	header = append(header, "status", "provider_id", "error", "attempts", "created_at", "updated_at")
	st := x.Store
	return x.stream(c, ws, "deliveries", header, func(ctx context.Context, jid string, p store.Period, row func([]string) error) error {
		return st.EachJourneyDelivery(ctx, ws, jid, p, func(d store.Delivery) error {
			rec := []string{d.ID, d.RunID, strconv.Itoa(d.Sequence), d.NodeID, d.Channel, d.Connector}
			if personal {
				rec = append(rec, d.Recipient, d.Subject)
			}
			rec = append(rec, d.Status, d.ProviderID, d.Error, strconv.Itoa(d.Attempts), csvTime(d.CreatedAt), csvTime(d.UpdatedAt))
			return row(rec)
		})
	})
}
