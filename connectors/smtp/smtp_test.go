package smtp_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/connectors/internal/ctest"
	"github.com/waymarkhq/waymark/connectors/netguard"
	"github.com/waymarkhq/waymark/connectors/smtp"
	"github.com/waymarkhq/waymark/store"
)

// envelope is one message the server accepted.
type envelope struct {
	From   string
	To     []string
	Data   []byte
	TLS    bool
	AuthAs string
}

// mailServer is an in-process SMTP server (github.com/emersion/go-smtp)
// that records envelopes and answers some recipients with errors.
type mailServer struct {
	mu        sync.Mutex
	envelopes []envelope
	addr      string
}

type session struct {
	srv  *mailServer
	conn *gosmtp.Conn
	env  envelope
	auth string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "mailer" || pass != "hunter2-smtp" {
			return &gosmtp.SMTPError{Code: 535, EnhancedCode: gosmtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		s.auth = user
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if from == "blocked@acme.example" {
		return &gosmtp.SMTPError{Code: 553, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "Sender not allowed"}
	}
	s.env = envelope{From: from, AuthAs: s.auth}
	return nil
}
func (s *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	switch strings.SplitN(to, "@", 2)[0] {
	case "nobody":
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	case "policy":
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "Rejected by policy"}
	case "busy":
		return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
	}
	s.env.To = append(s.env.To, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch strings.SplitN(s.env.To[0], "@", 2)[0] {
	case "spam":
		return &gosmtp.SMTPError{Code: 554, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "Message rejected as spam"}
	case "greylist":
		return &gosmtp.SMTPError{Code: 421, EnhancedCode: gosmtp.EnhancedCode{4, 7, 0}, Message: "Greylisted"}
	case "drop":
		// The whole message arrived; the connection dies before the answer.
		s.conn.Conn().Close()
		return errors.New("dropped")
	}
	_, s.env.TLS = s.conn.TLSConnectionState()
	s.env.Data = b
	s.srv.mu.Lock()
	s.srv.envelopes = append(s.srv.envelopes, s.env)
	s.srv.mu.Unlock()
	return nil
}
func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

func (m *mailServer) all() []envelope {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]envelope(nil), m.envelopes...)
}

// startServer runs the server on loopback; implicit wraps the listener in TLS.
func startServer(t *testing.T, cert tls.Certificate, implicit bool) *mailServer {
	t.Helper()
	ms := &mailServer{}
	s := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &session{srv: ms, conn: c}, nil
	}))
	s.Domain = "mx.test"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.ErrorLog = log.New(io.Discard, "", 0)
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}}
	var ln net.Listener
	var err error
	if implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", tlsConf)
	} else {
		s.TLSConfig = tlsConf
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	require.NoError(t, err)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	ms.addr = ln.Addr().String()
	return ms
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

type bundle struct {
	srv *mailServer
	c   connectors.Instance
	sup *ctest.Suppressions
}

func setup(t *testing.T, mode string, extra map[string]any) bundle {
	t.Helper()
	cert, pool := selfSigned(t)
	srv := startServer(t, cert, mode == smtp.TLSImplicit)
	env, sup := ctest.Env(t)
	env.TLS = &tls.Config{RootCAs: pool}
	host, port, _ := net.SplitHostPort(srv.addr)
	p, _ := strconv.Atoi(port)
	cfg := map[string]any{"host": host, "port": p, "tls": mode, "from": "Acme News <news@acme.example>", "timeout_seconds": 10}
	if mode != smtp.TLSNone {
		cfg["username"], cfg["password"] = "mailer", "hunter2-smtp"
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return bundle{srv: srv, c: ctest.Build(t, smtp.Type, env, cfg), sup: sup}
}

func marketing(to string) connectors.Message {
	return connectors.Message{
		DeliveryID: "0190d5a0-7b1c-7000-8000-000000000001", IdempotencyKey: "run:3", Kind: "send_email", Email: to,
		Subject: "Hello Ada – spring sale", HTML: `<p>Hi <b>Ada</b>,</p><p>Our sale &amp; more.</p>`, Text: "Hi Ada,\nOur sale & more.",
		UnsubscribeURL: "https://waymark.example.com/u/TOKEN123",
	}
}

func TestSendModes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{smtp.TLSStartTLS, smtp.TLSImplicit, smtp.TLSNone} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			b := setup(t, mode, map[string]any{"reply_to": "help@acme.example"})
			res, err := b.c.Send(context.Background(), marketing("ada@example.com"))
			require.NoError(t, err)
			require.Equal(t, "sent", res.Status)
			require.Equal(t, "<0190d5a0-7b1c-7000-8000-000000000001@acme.example>", res.ProviderID)
			envs := b.srv.all()
			require.Len(t, envs, 1)
			e := envs[0]
			require.Equal(t, "news@acme.example", e.From)
			require.Equal(t, []string{"ada@example.com"}, e.To)
			require.Equal(t, mode != smtp.TLSNone, e.TLS)
			if mode != smtp.TLSNone {
				require.Equal(t, "mailer", e.AuthAs)
			}

			msg, err := mail.ReadMessage(bytes.NewReader(e.Data))
			require.NoError(t, err)
			h := msg.Header
			require.Equal(t, "<0190d5a0-7b1c-7000-8000-000000000001@acme.example>", h.Get("Message-ID"))
			require.Equal(t, `"Acme News" <news@acme.example>`, h.Get("From"))
			require.Equal(t, "<help@acme.example>", h.Get("Reply-To"))
			subj, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
			require.NoError(t, err)
			require.Equal(t, "Hello Ada – spring sale", subj)
			require.Equal(t, "<https://waymark.example.com/u/TOKEN123>, <mailto:news@acme.example?subject=unsubscribe+TOKEN123>", h.Get("List-Unsubscribe"))
			require.Equal(t, "List-Unsubscribe=One-Click", h.Get("List-Unsubscribe-Post"))

			mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
			require.NoError(t, err)
			require.Equal(t, "multipart/alternative", mt)
			mr := multipart.NewReader(msg.Body, params["boundary"])
			var types []string
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
				types = append(types, ct)
			}
			require.Equal(t, []string{"text/plain", "text/html"}, types)
		})
	}
}

func TestTransactionalAndHTMLOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, smtp.TLSStartTLS, nil)
	m := marketing("ada@example.com")
	m.UnsubscribeURL, m.Text, m.FromName = "", "", "Ada's shop"
	_, err := b.c.Send(context.Background(), m)
	require.NoError(t, err)
	msg, err := mail.ReadMessage(bytes.NewReader(b.srv.all()[0].Data))
	require.NoError(t, err)
	require.Empty(t, msg.Header.Get("List-Unsubscribe"), "no unsubscribe headers without an unsubscribe URL")
	require.Empty(t, msg.Header.Get("List-Unsubscribe-Post"))
	require.Contains(t, msg.Header.Get("From"), "Ada's shop")
	body, _ := io.ReadAll(msg.Body)
	require.Contains(t, string(body), "Our sale & more.", "a text part made from the HTML")

	require.Equal(t, "Hi Ada,\n\nOur sale & more.", smtp.TextFromHTML(`<style>p{}</style><p>Hi <b>Ada</b>,</p><p>Our sale &amp; more.</p>`))
}

func TestFailures(t *testing.T) {
	t.Parallel()
	b := setup(t, smtp.TLSStartTLS, nil)
	ctx := context.Background()
	tests := []struct {
		to     string
		class  connectors.Class
		reason string
	}{
		{"nobody@example.com", connectors.Permanent, "550"},
		{"policy@example.com", connectors.Permanent, "Rejected by policy"},
		{"busy@example.com", connectors.Transient, "451"},
		{"spam@example.com", connectors.Permanent, "554"},
		{"greylist@example.com", connectors.Transient, "421"},
		{"drop@example.com", connectors.Unknown, "connection lost after the message was sent"},
	}
	for _, tt := range tests {
		t.Run(tt.to, func(t *testing.T) {
			_, err := b.c.Send(ctx, marketing(tt.to))
			require.Equal(t, tt.class, ctest.Class(t, err), "%v", err)
			_, _, reason := connectors.Classify(err)
			require.Contains(t, reason, tt.reason)
		})
	}
	// Only a missing mailbox (5.1.1) is a hard bounce for the suppression list.
	require.Equal(t, []connectors.Suppression{{Channel: store.SuppressEmail, Address: "nobody@example.com", Reason: store.ReasonHardBounce}}, b.sup.All())
	_, err := b.c.Send(ctx, marketing("nobody@example.com"))
	require.True(t, errors.Is(err, connectors.ErrSuppressed))

	_, err = b.c.Send(ctx, connectors.Message{Subject: "x"})
	require.Equal(t, connectors.Permanent, ctest.Class(t, err))

	// Account-level problems are transient: the message waits for a fix.
	bad := setup(t, smtp.TLSStartTLS, map[string]any{"password": "wrong"})
	_, err = bad.c.Send(ctx, marketing("ada@example.com"))
	require.Equal(t, connectors.Transient, ctest.Class(t, err), "%v", err)
	require.Contains(t, err.Error(), "535")
	require.NotContains(t, err.Error(), "wrong")
	blocked := setup(t, smtp.TLSStartTLS, map[string]any{"from": "blocked@acme.example"})
	_, err = blocked.c.Send(ctx, marketing("ada@example.com"))
	require.Equal(t, connectors.Transient, ctest.Class(t, err))
	require.Contains(t, err.Error(), "553")

	// Nothing listening: transient.
	env, _ := ctest.Env(t)
	dead := ctest.Build(t, smtp.Type, env, map[string]any{"host": "127.0.0.1", "port": 1, "tls": "none", "from": "a@acme.example", "timeout_seconds": 5})
	_, err = dead.Send(ctx, marketing("ada@example.com"))
	require.Equal(t, connectors.Transient, ctest.Class(t, err))
}

func TestStartTLSRequiresAValidCertificate(t *testing.T) {
	t.Parallel()
	cert, _ := selfSigned(t)
	srv := startServer(t, cert, false)
	env, _ := ctest.Env(t) // system roots: the self-signed certificate is not trusted
	host, port, _ := net.SplitHostPort(srv.addr)
	p, _ := strconv.Atoi(port)
	c := ctest.Build(t, smtp.Type, env, map[string]any{"host": host, "port": p, "from": "a@acme.example", "username": "mailer", "password": "hunter2-smtp"})
	_, err := c.Send(context.Background(), marketing("ada@example.com"))
	require.Equal(t, connectors.Transient, ctest.Class(t, err))
	require.Empty(t, srv.all())
	res := c.Test(context.Background(), "")
	require.False(t, res.OK)
	require.Contains(t, res.Detail, "certificate")
}

func TestDKIM(t *testing.T) {
	t.Parallel()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	b := setup(t, smtp.TLSStartTLS, map[string]any{"dkim_domain": "acme.example", "dkim_selector": "wm1", "dkim_private_key": pemKey})
	_, err = b.c.Send(context.Background(), marketing("ada@example.com"))
	require.NoError(t, err)
	msg, err := mail.ReadMessage(bytes.NewReader(b.srv.all()[0].Data))
	require.NoError(t, err)
	sig := msg.Header.Get("DKIM-Signature")
	require.Contains(t, sig, "d=acme.example")
	require.Contains(t, sig, "s=wm1")
}

func TestTestCall(t *testing.T) {
	t.Parallel()
	b := setup(t, smtp.TLSImplicit, nil)
	res := b.c.Test(context.Background(), "")
	require.True(t, res.OK, res.Detail)
	require.Contains(t, res.Detail, "authenticated as mailer")
	require.Empty(t, b.srv.all())
	res = b.c.Test(context.Background(), "ada@example.com")
	require.True(t, res.OK, res.Detail)
	envs := b.srv.all()
	require.Len(t, envs, 1)
	msg, err := mail.ReadMessage(bytes.NewReader(envs[0].Data))
	require.NoError(t, err)
	require.Equal(t, "true", msg.Header.Get("X-Waymark-Test"))
	res = b.c.Test(context.Background(), "nobody@example.com")
	require.False(t, res.OK)
	require.Contains(t, res.Detail, "No such user here", "the server's own answer")

	bad := setup(t, smtp.TLSStartTLS, map[string]any{"password": "wrong"})
	res = bad.c.Test(context.Background(), "")
	require.False(t, res.OK)
	require.Contains(t, res.Detail, "Authentication credentials invalid")
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    map[string]any
		fields []string
	}{
		{"ok", map[string]any{"host": "smtp.example.com", "from": "a@b.example"}, nil},
		{"missing", map[string]any{}, []string{"host", "from"}},
		{"bad from", map[string]any{"host": "h.example", "from": "not an address"}, []string{"from"}},
		{"user without password", map[string]any{"host": "h.example", "from": "a@b.example", "username": "u"}, []string{"password"}},
		{"password in clear", map[string]any{"host": "h.example", "from": "a@b.example", "username": "u", "password": "p", "tls": "none"}, []string{"tls"}},
		{"bad tls", map[string]any{"host": "h.example", "from": "a@b.example", "tls": "ssl"}, []string{"tls"}},
		{"half dkim", map[string]any{"host": "h.example", "from": "a@b.example", "dkim_domain": "b.example"}, []string{"dkim_domain"}},
		{"bad dkim key", map[string]any{"host": "h.example", "from": "a@b.example", "dkim_domain": "b.example", "dkim_selector": "s", "dkim_private_key": "nope"}, []string{"dkim_private_key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := smtp.Type.Normalize(tt.cfg)
			var got []string
			for _, e := range errs {
				got = append(got, e.Field)
			}
			require.Equal(t, tt.fields, got)
		})
	}
	// The guard refuses internal SMTP hosts and odd ports.
	for _, cfg := range []map[string]any{
		{"host": "10.0.0.5", "from": "a@b.example"},
		{"host": "smtp.example.com", "port": 8025, "from": "a@b.example"},
	} {
		nc, errs := smtp.Type.Normalize(cfg)
		require.Empty(t, errs)
		env2, _ := ctest.Env(t)
		env2.Net = strictGuard()
		_, err := smtp.Type.New(connectors.Setup{Config: nc, Env: env2})
		var fp *connectors.FieldProblem
		require.ErrorAs(t, err, &fp)
		require.Equal(t, "host", fp.Field)
	}
}

func strictGuard() *netguard.Guard { return netguard.MustNew() }
