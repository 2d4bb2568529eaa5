package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/waymarkhq/waymark/internal/jsonlimit"
	"github.com/waymarkhq/waymark/ui/views"
)

// What the trigger panel shows of a request and how it writes examples:
// a captured body as a tree of expressions (event.body.user.id), and the
// ready-to-paste requests (curl) for webhook and event triggers.

// Bounds of the sample tree: a body may be large, the panel is small.
const (
	maxSampleNodes    = 400 // values shown in all
	maxSampleChildren = 100 // items or keys shown per object or array
	maxSampleText     = 200 // characters of a value shown
	maxSampleRaw      = 2000
)

// plainKey is a key expr reads after a dot (event.body.user_id); any
// other key is indexed with a quoted string (event.body["first-name"]).
var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// exprWords are names expr's lexer reads as operators or literals: after a
// dot they do not parse as a member, so they are quoted.
var exprWords = map[string]bool{
	"in": true, "not": true, "and": true, "or": true, "matches": true, "contains": true, "startsWith": true, "endsWith": true,
	"let": true, "if": true, "else": true, "true": true, "false": true, "nil": true,
}

// memberExpr is the expression reading key of the object parent reads.
func memberExpr(parent, key string) string {
	if plainKey.MatchString(key) && !exprWords[key] {
		return parent + "." + key
	}
	return parent + "[" + quoteExpr(key) + "]"
}

// quoteExpr is key as an expr string literal: double quotes, with
// backslash escapes for quotes, backslashes and control characters.
func quoteExpr(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || r == utf8.RuneError:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// sampleTree reads a JSON body into the tree the panel draws, keys in the
// order they were sent. It fails when the body is not JSON.
func sampleTree(body []byte) (*views.SampleNode, error) {
	if err := jsonlimit.CheckDepth(body, jsonlimit.MaxDepth); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	budget := maxSampleNodes
	root, err := readSample(dec, "body", "event.body", &budget)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("text after the JSON value")
	}
	return &root, nil
}

func readSample(dec *json.Decoder, key, expr string, budget *int) (views.SampleNode, error) {
	n := views.SampleNode{Key: key, Expr: expr}
	tok, err := dec.Token()
	if err != nil {
		return n, err
	}
	*budget--
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			n.Kind = "object"
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return n, err
				}
				k, _ := kt.(string)
				label := clipText(k)
				if strings.TrimSpace(k) == "" {
					label = strconv.Quote(k)
				}
				if err := readChild(dec, &n, label, memberExpr(expr, k), budget); err != nil {
					return n, err
				}
			}
		} else {
			n.Kind = "array"
			for i := 0; dec.More(); i++ {
				ix := "[" + strconv.Itoa(i) + "]"
				if err := readChild(dec, &n, ix, expr+ix, budget); err != nil {
					return n, err
				}
			}
		}
		_, err = dec.Token() // the closing delimiter
		return n, err
	case string:
		n.Kind, n.Value = "string", clipText(strconv.Quote(t))
	case json.Number:
		n.Kind, n.Value = "number", clipText(t.String())
	case bool:
		n.Kind, n.Value = "bool", strconv.FormatBool(t)
	default:
		n.Kind, n.Value = "null", "null"
	}
	return n, nil
}

// readChild reads one value into parent, or skips it once the tree is
// full (counted in More).
func readChild(dec *json.Decoder, parent *views.SampleNode, key, expr string, budget *int) error {
	if *budget <= 0 || len(parent.Children) >= maxSampleChildren {
		parent.More++
		var skip json.RawMessage
		return dec.Decode(&skip)
	}
	c, err := readSample(dec, key, expr, budget)
	if err != nil {
		return err
	}
	parent.Children = append(parent.Children, c)
	return nil
}

func clipText(s string) string {
	if utf8.RuneCountInString(s) <= maxSampleText {
		return s
	}
	r := []rune(s)
	return string(r[:maxSampleText]) + "…"
}

// shellQuote is s as one single-quoted shell word.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Sample values an example request carries for the mapping fields.
var exampleValues = map[string]string{"profile_id": "u_1042", "email": "ada@example.com", "phone": "+447700900123"}

// bodyPath matches an expression that only reads the body: event.body.a.b.
var bodyPath = regexp.MustCompile(`^\s*event\.body((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*$`)

// exampleBody is a JSON body the trigger's mapping reads: each field whose
// expression is a plain path into the body (event.body.user.id) gets a
// sample value there. Without any, the placeholders' shape.
func exampleBody(mapping map[string]string) string {
	type obj struct {
		keys []string
		vals map[string]any
	}
	root := &obj{vals: map[string]any{}}
	set := func(path []string, v string) {
		o := root
		for i, k := range path {
			last := i == len(path)-1
			cur, ok := o.vals[k]
			if !ok {
				o.keys = append(o.keys, k)
				if last {
					o.vals[k] = v
					return
				}
				next := &obj{vals: map[string]any{}}
				o.vals[k] = next
				o = next
				continue
			}
			next, isObj := cur.(*obj)
			if last || !isObj {
				return // the path is taken: keep the first field's value
			}
			o = next
		}
	}
	for _, field := range []string{"profile_id", "email", "phone"} {
		if m := bodyPath.FindStringSubmatch(mapping[field]); m != nil {
			set(strings.Split(m[1][1:], "."), exampleValues[field])
		}
	}
	if len(root.keys) == 0 {
		set([]string{"user_id"}, exampleValues["profile_id"])
		set([]string{"email"}, exampleValues["email"])
	}
	var b strings.Builder
	var write func(o *obj)
	write = func(o *obj) {
		b.WriteByte('{')
		for i, k := range o.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			switch v := o.vals[k].(type) {
			case *obj:
				write(v)
			case string:
				vb, _ := json.Marshal(v)
				b.Write(vb)
			}
		}
		b.WriteByte('}')
	}
	write(root)
	return b.String()
}

// hookCurl is a shell script that signs body with secret the way scheme
// says and posts it to url: openssl computes the signature, so it is
// always for the current time and a fresh message id.
func hookCurl(url, scheme, secret, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "URL=%s\nSECRET=%s\nBODY=%s\n", shellQuote(url), shellQuote(secret), shellQuote(body))
	if scheme == "github" {
		b.WriteString("# GitHub-style: HMAC-SHA256 of the body, keyed with the whole secret.\n" +
			"# The same body is refused for 24 hours: change it between tries.\n" +
			"SIG=$(printf '%s' \"$BODY\" | openssl dgst -sha256 -hmac \"$SECRET\" -binary | od -An -vtx1 | tr -d ' \\n')\n" +
			"curl -sS \"$URL\" -H 'Content-Type: application/json' \\\n" +
			"  -H \"X-GitHub-Delivery: $(openssl rand -hex 12)\" -H \"X-Hub-Signature-256: sha256=$SIG\" \\\n" +
			"  --data-raw \"$BODY\"\n")
		return b.String()
	}
	b.WriteString("# Standard Webhooks: HMAC-SHA256 of \"id.timestamp.body\", keyed with the\n" +
		"# secret's bytes (base64 after whsec_).\n" +
		"ID=\"msg_$(openssl rand -hex 12)\"\n" +
		"TS=$(date +%s)\n" +
		"KEY=$(printf '%s' \"${SECRET#whsec_}\" | base64 -d | od -An -vtx1 | tr -d ' \\n')\n" +
		"SIG=$(printf '%s' \"$ID.$TS.$BODY\" | openssl dgst -sha256 -mac HMAC -macopt \"hexkey:$KEY\" -binary | base64)\n" +
		"curl -sS \"$URL\" -H 'Content-Type: application/json' \\\n" +
		"  -H \"webhook-id: $ID\" -H \"webhook-timestamp: $TS\" -H \"webhook-signature: v1,$SIG\" \\\n" +
		"  --data-raw \"$BODY\"\n")
	return b.String()
}

// eventCurl posts one event named name to the events API at base.
func eventCurl(base, name string) string {
	if name == "" {
		name = "your_event"
	}
	body, _ := json.Marshal(struct {
		Name       string         `json:"name"`
		ProfileID  string         `json:"profile_id"`
		Properties map[string]any `json:"properties"`
	}{name, exampleValues["profile_id"], map[string]any{}})
	return "curl -sS " + shellQuote(strings.TrimRight(base, "/")+"/api/v1/events") + " \\\n" +
		"  -H \"Authorization: Bearer $WAYMARK_API_KEY\" -H 'Content-Type: application/json' \\\n" +
		"  --data-raw " + shellQuote(string(body)) + "\n"
}
