package ingest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/waymarkhq/waymark/connectors"
	connbuiltin "github.com/waymarkhq/waymark/connectors/builtin"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/connectors/secrets"
	"github.com/waymarkhq/waymark/internal/engagement"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/internal/testenv"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/nodes/builtin"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
	"github.com/waymarkhq/waymark/worker"
)

// mailbox is an in-process SMTP server (github.com/emersion/go-smtp)
// keeping what it receives.
type mailbox struct {
	mu   sync.Mutex
	msgs [][]byte
	addr string
}

type mailSession struct{ box *mailbox }

func (s *mailSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, b)
	s.box.mu.Unlock()
	return nil
}
func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }

func startMailbox(t *testing.T) *mailbox {
	t.Helper()
	box := &mailbox{}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return &mailSession{box: box}, nil }))
	srv.Domain = "mx.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	box.addr = ln.Addr().String()
	return box
}

func (m *mailbox) all() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]byte(nil), m.msgs...)
}

// htmlPart returns a received message's headers and its text/html part,
// decoded.
func htmlPart(t *testing.T, raw []byte) (mail.Header, string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err)
	var find func(h map[string][]string, body io.Reader) string
	find = func(h map[string][]string, body io.Reader) string {
		ct, params, err := mime.ParseMediaType(first(h["Content-Type"]))
		require.NoError(t, err)
		if strings.HasPrefix(ct, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextPart()
				if errors.Is(err, io.EOF) {
					return ""
				}
				require.NoError(t, err)
				if s := find(p.Header, p); s != "" {
					return s
				}
			}
		}
		if ct != "text/html" {
			return ""
		}
		var r io.Reader = body
		if strings.EqualFold(first(h["Content-Transfer-Encoding"]), "quoted-printable") {
			r = quotedprintable.NewReader(body)
		}
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		return string(b)
	}
	return msg.Header, find(msg.Header, msg.Body)
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// hrefsAndImgs lists a document's link targets and image sources.
func hrefsAndImgs(doc string) (links, imgs []string) {
	z := html.NewTokenizer(strings.NewReader(doc))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			for _, a := range tok.Attr {
				if tok.Data == "a" && a.Key == "href" {
					links = append(links, a.Val)
				}
				if tok.Data == "img" && a.Key == "src" {
					imgs = append(imgs, a.Val)
				}
			}
		}
	}
}

type taskQueue struct {
	mu    sync.Mutex
	tasks []*asynq.Task
}

func (q *taskQueue) EnqueueContext(_ context.Context, t *asynq.Task, _ ...asynq.Option) (*asynq.TaskInfo, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.tasks = append(q.tasks, t)
	return &asynq.TaskInfo{}, nil
}

func (q *taskQueue) drain(t *testing.T, eng *worker.Engine) {
	for range 100 {
		q.mu.Lock()
		ts := q.tasks
		q.tasks = nil
		q.mu.Unlock()
		if len(ts) == 0 {
			return
		}
		for _, task := range ts {
			require.NoError(t, eng.ProcessTask(context.Background(), task))
		}
	}
}

// trackedJourney: a signup enters a bandit split whose both arms send the
// same email through the SMTP connector; a click on the email is the goal.
const trackedJourney = `{"format": 1, "name": "Tracked", "settings": {"reentry": "always", "goal": {"event": "email_clicked", "window": "7d"}}, "nodes": [
	{"id": "start", "kind": "trigger_event", "config": {"event": "signed_up"}},
	{"id": "ab", "kind": "split", "config": {"strategy": "bandit", "min_share": 10, "variants": [{"name": "a", "weight": 0}, {"name": "b", "weight": 0}]}},
	{"id": "mail", "kind": "send_email", "title": "Welcome mail", "config": {"connector": "mail", "subject": "Welcome",
		"body": "<html><body><p>Hi! <a href=\"https://shop.example/sale?x=1&amp;y=2\">Sale</a> <a href=\"mailto:help@shop.example\">Help</a> <a href=\"#top\">Top</a></p></body></html>"}}],
	"edges": [{"from": "start", "to": "ab"}, {"from": "ab", "port": "a", "to": "mail"}, {"from": "ab", "port": "b", "to": "mail"}]}`

type trackingBundle struct {
	st       *store.Store
	box      *mailbox
	base     string
	engine   *worker.Engine
	queue    *taskQueue
	reports  *journeys.Reports
	journey  store.Journey
	offset   atomic.Int64 // the tracking clock's lead over the real one
	noFollow *http.Client
}

// setupTracking wires what `waymark serve` wires for tracking: the SMTP
// connector through the connector service, the engine with the tracking
// service as its Tracker, and ingest's routes on a real HTTP listener at
// the tracking base URL; the journey is published.
func setupTracking(t *testing.T, doc string) *trackingBundle {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, testenv.SQLiteURL(t), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	_, err = st.EnsureWorkspace(ctx, store.DefaultWorkspaceID, "Default")
	require.NoError(t, err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &trackingBundle{st: st, box: startMailbox(t), base: "http://" + ln.Addr().String(), queue: &taskQueue{}}
	b.noFollow = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	key := make([]byte, 32)
	_, err = rand.Read(key)
	require.NoError(t, err)
	keys, err := secrets.NewKeyring(key)
	require.NoError(t, err)
	creg, err := connbuiltin.NewRegistry()
	require.NoError(t, err)
	conns, err := connectors.NewService(st, keys, creg, connectors.Options{Net: netguard.MustNew(netguard.AllowLoopbackForTests()), PublicURL: b.base})
	require.NoError(t, err)
	host, port, _ := net.SplitHostPort(b.box.addr)
	p, _ := strconv.Atoi(port)
	_, err = conns.Create(ctx, store.DefaultWorkspaceID, connectors.Input{Type: "smtp", Name: "mail",
		Config: map[string]any{"host": host, "port": p, "tls": "none", "from": "Shop <news@shop.example>", "timeout_seconds": 10}})
	require.NoError(t, err)

	subkeys, err := keys.Subkeys("tracking v1")
	require.NoError(t, err)
	tracking, err := engagement.New(engagement.Config{Store: st, Base: b.base, Keys: subkeys,
		Now: func() time.Time { return time.Now().Add(time.Duration(b.offset.Load())) }})
	require.NoError(t, err)
	reg := nodes.NewRegistry()
	require.NoError(t, builtin.Register(reg))
	b.engine = worker.NewEngine(worker.EngineConfig{Store: st, Registry: reg, Connectors: conns, Suppressions: st, Enqueuer: b.queue,
		UnsubscribeURL: conns.UnsubscribeURL, Tracker: tracking})
	tracking.WithEngine(b.engine)

	// The whole HTTP edge as cmd composes it: the permission table,
	// sessions and CSRF apply (and must let /t/ through).
	svc := journeys.New(st, reg)
	srv, err := ui.New(ui.Config{Version: "test", BodyLimit: 64 << 10}, ui.Deps{Store: st, Journeys: svc, Connectors: conns, Engine: b.engine,
		Tracking: tracking, Logger: slog.New(slog.NewTextHandler(uitest.LogWriter{T: t}, nil))})
	require.NoError(t, err)
	go func() { _ = srv.App().Listener(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })

	j, problems, err := svc.Create(ctx, store.DefaultWorkspaceID, []byte(doc), "test", journeys.SaveOptions{})
	require.NoError(t, err)
	require.Empty(t, problems)
	_, err = svc.Publish(ctx, store.DefaultWorkspaceID, j.ID, "test")
	require.NoError(t, err)
	b.journey, err = st.GetJourney(ctx, store.DefaultWorkspaceID, j.ID)
	require.NoError(t, err)
	b.reports = journeys.NewReports(st, svc)
	return b
}

// signUp enters a profile and runs its steps: the email goes out.
func (b *trackingBundle) signUp(t *testing.T, id string) store.Profile {
	t.Helper()
	ctx := context.Background()
	email := id + "@example.com"
	p, _, err := b.st.UpsertProfile(ctx, store.ProfileUpsert{WorkspaceID: store.DefaultWorkspaceID, ExternalID: id, Email: &email})
	require.NoError(t, err)
	ev, err := b.st.InsertEvent(ctx, store.Event{WorkspaceID: store.DefaultWorkspaceID, ProfileID: p.ID, Name: "signed_up"})
	require.NoError(t, err)
	res, err := b.engine.HandleEvent(ctx, ev)
	require.NoError(t, err)
	require.Len(t, res.Entered, 1)
	b.queue.drain(t, b.engine)
	return p
}

func (b *trackingBundle) get(t *testing.T, method, url, ua string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	if ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	res, err := b.noFollow.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = res.Body.Close() })
	return res
}

func (b *trackingBundle) events(t *testing.T, profileID, name string) []store.Event {
	t.Helper()
	evs, err := b.st.ListProfileEvents(context.Background(), profileID, name, time.Now().Add(-time.Hour), 100)
	require.NoError(t, err)
	return evs
}

const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"

// TestTrackingThroughSMTP sends a journey's email through a real SMTP
// server, follows its tracked link and pixel over real HTTP, and checks the
// redirect, the events, bots, forgeries, the step's numbers and that the
// click is the bandit's reward and best-time's evidence.
func TestTrackingThroughSMTP(t *testing.T) {
	t.Parallel()
	b := setupTracking(t, trackedJourney)
	ctx := context.Background()
	ada := b.signUp(t, "ada")

	msgs := b.box.all()
	require.Len(t, msgs, 1)
	header, body := htmlPart(t, msgs[0])
	require.NotEmpty(t, body)
	require.Contains(t, header.Get("List-Unsubscribe"), b.base+"/u/", "the unsubscribe header is left as it is")
	links, imgs := hrefsAndImgs(body)
	require.Len(t, links, 3)
	require.True(t, strings.HasPrefix(links[0], b.base+"/t/c/"), links[0])
	require.Equal(t, []string{"mailto:help@shop.example", "#top"}, links[1:], "mailto and anchors untouched")
	require.Len(t, imgs, 1)
	pixelURL := imgs[0]
	require.True(t, strings.HasPrefix(pixelURL, b.base+"/t/o/") && strings.HasSuffix(pixelURL, ".gif"), pixelURL)

	// The delivery keeps the HTML as rendered.
	ds, _, err := b.st.ListDeliveries(ctx, store.DefaultWorkspaceID, store.DeliveryFilter{RunID: firstRun(t, b).ID})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Contains(t, ds[0].Body, `href="https://shop.example/sale?x=1&amp;y=2"`)

	// Forged and altered tokens: 404, no redirect, nothing recorded.
	tok := strings.TrimPrefix(links[0], b.base+"/t/c/")
	altered := tok[:len(tok)/2] + string(rune('A'+(tok[len(tok)/2]-'A'+1)%26)) + tok[len(tok)/2+1:]
	for _, u := range []string{b.base + "/t/c/" + altered, b.base + "/t/c/bm90LWEtdG9rZW4", b.base + "/t/o/" + tok + ".gif",
		strings.TrimSuffix(pixelURL, ".gif"), b.base + "/t/c/" + strings.TrimSuffix(strings.TrimPrefix(pixelURL, b.base+"/t/o/"), ".gif")} {
		res := b.get(t, "GET", u, chrome)
		require.Equal(t, 404, res.StatusCode, u)
		require.Empty(t, res.Header.Get("Location"), u)
	}
	require.Empty(t, b.events(t, ada.ID, engagement.EventClicked))

	// Apple Mail Privacy Protection fetches the pixel at once: a
	// machine's open, recorded as such, applied to nothing.
	res := b.get(t, "GET", pixelURL, "Mozilla/5.0")
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "image/gif", res.Header.Get("Content-Type"))
	require.Contains(t, res.Header.Get("Cache-Control"), "no-store")
	gif, _ := io.ReadAll(res.Body)
	require.True(t, bytes.HasPrefix(gif, []byte("GIF89a")))
	opens := b.events(t, ada.ID, engagement.EventOpened)
	require.Len(t, opens, 1)
	require.Equal(t, false, opens[0].Properties["human"])
	require.Equal(t, "apple_mpp", opens[0].Properties["reason"])
	// A HEAD from a link scanner is a machine's click, and still redirects.
	res = b.get(t, "HEAD", links[0], chrome)
	require.Equal(t, 302, res.StatusCode)

	// A person clicks a minute later: redirected to the original URL,
	// email_clicked recorded with the delivery, journey and node; the
	// open it implies too; the run converts on the click (the goal).
	b.offset.Store(int64(time.Minute))
	res = b.get(t, "GET", links[0], chrome)
	require.Equal(t, 302, res.StatusCode)
	require.Equal(t, "https://shop.example/sale?x=1&y=2", res.Header.Get("Location"))
	clicks := b.events(t, ada.ID, engagement.EventClicked)
	var human []store.Event
	for _, e := range clicks {
		if e.Properties["human"] == true {
			human = append(human, e)
		}
	}
	require.Len(t, human, 1)
	require.Equal(t, map[string]any{"delivery_id": ds[0].ID, "journey_id": b.journey.ID, "node_id": "mail", "human": true,
		"url": "https://shop.example/sale?x=1&y=2", "link": float64(0)}, human[0].Properties)
	// Clicking again counts, but records no second event.
	res = b.get(t, "GET", links[0], chrome)
	require.Equal(t, 302, res.StatusCode)
	require.Len(t, b.events(t, ada.ID, engagement.EventClicked), len(clicks))

	run := firstRun(t, b)
	require.NotNil(t, run.ConvertedAt, "the click converted the run (journey goal email_clicked)")

	// The bandit's reward: its arm counts one conversion.
	counts, err := b.st.SplitCounts(ctx, b.journey.ID, "ab")
	require.NoError(t, err)
	var conv int64
	for _, c := range counts {
		conv += c.Conversions
	}
	require.Equal(t, int64(1), conv)
	// Best-time's evidence: the click and the open it implied, not the
	// machine's open.
	hours, err := worker.NewLearning(b.st, worker.LearningConfig{}).ProfileHours(ctx, ada.ID, worker.DefaultEngagementEvents, time.UTC)
	require.NoError(t, err)
	require.Equal(t, 2, hours.Evidence)

	// The step's numbers.
	eng, err := b.reports.MessageSteps(ctx, store.DefaultWorkspaceID, b.journey.ID, 0, store.Period{})
	require.NoError(t, err)
	require.Len(t, eng, 1)
	require.Equal(t, "mail", eng[0].NodeID)
	require.Equal(t, "Welcome mail", eng[0].Title)
	require.Equal(t, int64(1), eng[0].Sent)
	require.Equal(t, int64(1), eng[0].Opened)
	require.Equal(t, int64(1), eng[0].Clicked)
	require.Equal(t, int64(1), eng[0].Converted)
	require.InDelta(t, 1.0, eng[0].OpenRate, 1e-9)
}

// TestTrackingOff: settings.tracking false sends the email as rendered.
func TestTrackingOff(t *testing.T) {
	t.Parallel()
	b := setupTracking(t, strings.Replace(trackedJourney, `"reentry": "always",`, `"reentry": "always", "tracking": false,`, 1))
	b.signUp(t, "bo")
	msgs := b.box.all()
	require.Len(t, msgs, 1)
	_, body := htmlPart(t, msgs[0])
	links, imgs := hrefsAndImgs(body)
	require.Equal(t, "https://shop.example/sale?x=1&y=2", links[0])
	require.Empty(t, imgs)
}

func firstRun(t *testing.T, b *trackingBundle) store.Run {
	t.Helper()
	runs, _, err := b.st.ListRuns(context.Background(), store.DefaultWorkspaceID, store.RunFilter{JourneyID: b.journey.ID})
	require.NoError(t, err)
	require.NotEmpty(t, runs)
	return runs[0]
}

// TestStatsAPIMessages: GET /api/v1/journeys/{id}/stats answers the
// message steps' engagement in "messages" beside the unchanged numbers,
// checked against the OpenAPI document.
func TestStatsAPIMessages(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	doc := strings.Replace(strings.Replace(trackedJourney, `"connector": "mail"`, `"connector": "sandbox"`, 1), `"goal": {"event": "email_clicked", "window": "7d"}`, `"timezone": "UTC"`, 1)
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(doc))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	res = b.Call("GET", "/api/v1/journeys/"+jid+"/stats", admin, nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	require.Equal(t, []any{}, res.JSON(t)["messages"], "never published: no messages")
	res = b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	res = b.Call("POST", "/api/v1/events", admin, []byte(`{"name": "signed_up", "profile_id": "ada", "profile": {"external_id": "ada", "email": "ada@example.com"}}`))
	require.Equal(t, 202, res.Status, string(res.Body))
	b.Drain(b.Engine)
	ds, _, err := b.Store.ListDeliveries(b.Ctx, store.DefaultWorkspaceID, store.DeliveryFilter{})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	_, err = b.Store.RecordEngagement(b.Ctx, store.EngagementHit{WorkspaceID: store.DefaultWorkspaceID, DeliveryID: ds[0].ID, JourneyID: jid, NodeID: "mail",
		Click: true, Human: true, At: time.Now()})
	require.NoError(t, err)

	res = b.Call("GET", "/api/v1/journeys/"+jid+"/stats", admin, nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	got := res.JSON(t)
	require.NotEmpty(t, got["nodes"], "the ledger's numbers are still there")
	require.Equal(t, float64(1), got["journey"].(map[string]any)["entries"])
	msgs := got["messages"].([]any)
	require.Len(t, msgs, 1)
	m := msgs[0].(map[string]any)
	require.Equal(t, "mail", m["node_id"])
	require.Equal(t, "Welcome mail", m["title"])
	require.Equal(t, true, m["tracked"])
	for k, want := range map[string]float64{"sent": 1, "delivered": 1, "opened": 1, "clicked": 1, "clicks": 1, "open_rate": 1, "click_rate": 1, "click_to_open_rate": 1} {
		require.Equal(t, want, m[k], k)
	}
	res = b.Call("GET", "/api/v1/journeys/"+jid+"/stats?version=0", admin, nil)
	require.Equal(t, 400, res.Status)
}
