package ingest_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// specPost sends a Segment-spec call with extra headers (name, value…).
func specPost(t *testing.T, b *uitest.Bundle, path, body string, header ...string) (int, map[string]any, http.Header) {
	t.Helper()
	req := httptest.NewRequest("POST", path, bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.Server.App().Test(req, -1)
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return resp.StatusCode, out, resp.Header
}

// basic is the Authorization header Segment's SDKs send: the write key as
// the username and an empty password.
func basic(key string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":")) }

func profileEvents(t *testing.T, b *uitest.Bundle, externalID, name string) []store.Event {
	t.Helper()
	p, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, externalID)
	require.NoError(t, err)
	evs, err := b.Store.ListProfileEvents(b.Ctx, p.ID, name, time.Time{}, 100)
	require.NoError(t, err)
	return evs
}

// The examples of Segment's HTTP Tracking API reference and of its spec,
// as published, posted as the SDKs post them.
func TestSegmentSpecPublishedExamples(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "events:write", "profiles:write")
	auth := basic(key)

	// HTTP API reference, Identify.
	status, body, hdr := specPost(t, b, "/v1/identify", `{
  "userId": "019mr8mf4r",
  "traits": {
    "email": "pgibbons@example.com",
    "name": "Peter Gibbons",
    "industry": "Technology"
  },
  "context": {
    "ip": "24.5.68.47"
  },
  "timestamp": "2012-12-02T00:30:08.276Z"
}`, "Authorization", auth)
	require.Equal(t, 200, status, body)
	require.Equal(t, map[string]any{"success": true}, body)
	require.Equal(t, "*", hdr.Get("Access-Control-Allow-Origin"))
	p, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "019mr8mf4r")
	require.NoError(t, err)
	require.Equal(t, "pgibbons@example.com", p.Email)
	require.Equal(t, map[string]any{"name": "Peter Gibbons", "industry": "Technology"}, p.Attributes)

	// HTTP API reference, Track.
	status, body, _ = specPost(t, b, "/v1/track", `{
  "userId": "019mr8mf4r",
  "event": "Item Purchased",
  "properties": {
    "name": "Leap to Conclusions Mat",
    "revenue": 14.99
  },
  "context": {
    "ip": "24.5.68.47"
  },
  "timestamp": "2012-12-02T00:30:12.984Z"
}`, "Authorization", auth)
	require.Equal(t, 200, status, body)
	evs := profileEvents(t, b, "019mr8mf4r", "Item Purchased")
	require.Len(t, evs, 1)
	require.Equal(t, map[string]any{"name": "Leap to Conclusions Mat", "revenue": 14.99}, evs[0].Properties)
	require.Equal(t, time.Date(2012, 12, 2, 0, 30, 12, 984e6, time.UTC), evs[0].OccurredAt.UTC())

	// HTTP API reference, Batch.
	status, body, _ = specPost(t, b, "/v1/batch", `{
  "batch": [
    {
      "type": "identify",
      "userId": "019mr8mf4r",
      "traits": {
        "email": "jake@yahoo.com",
        "name": "Jake Peterson",
        "age": 26
      },
      "timestamp": "2012-12-02T00:30:08.276Z"
    },
    {
      "type": "track",
      "userId": "019mr8mf4r",
      "event": "Song Played",
      "properties": {
        "name": "Fallin for You",
        "artist": "Dierks Bentley"
      },
      "timestamp": "2012-12-02T00:30:12.984Z"
    },
    {
      "type": "identify",
      "userId": "971mj8mk7p",
      "traits": {
        "email": "cindy@example.com",
        "name": "Cindy Gonzalez",
        "age": 23
      },
      "timestamp": "2012-12-02T00:30:14.176Z"
    },
    {
      "type": "page",
      "userId": "971mj8mk7p",
      "name": "Shoes",
      "properties": {
        "url": "http://www.initech.com/shoes"
      },
      "timestamp": "2012-12-02T00:30:14.276Z"
    },
    {
      "type": "track",
      "userId": "971mj8mk7p",
      "event": "Song Played",
      "properties": {
        "name": "Get Right",
        "artist": "Jennifer Lopez"
      },
      "timestamp": "2012-12-02T00:30:18.976Z"
    }
  ],
  "context": {
    "device": {
      "type": "phone",
      "name": "Apple iPhone 6"
    }
  }
}`, "Authorization", auth)
	require.Equal(t, 200, status, body)
	p, err = b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "019mr8mf4r")
	require.NoError(t, err)
	require.Equal(t, "jake@yahoo.com", p.Email, "the later identify's traits win")
	require.Equal(t, "Jake Peterson", p.Attributes["name"])
	require.Equal(t, float64(26), p.Attributes["age"])
	require.Len(t, profileEvents(t, b, "019mr8mf4r", "Song Played"), 1)
	require.Len(t, profileEvents(t, b, "971mj8mk7p", "Song Played"), 1)
	pages := profileEvents(t, b, "971mj8mk7p", "Page Viewed")
	require.Len(t, pages, 1)
	require.Equal(t, map[string]any{"url": "http://www.initech.com/shoes", "name": "Shoes"}, pages[0].Properties)

	// The spec's full identify as analytics.js sends it (Segment Spec for
	// Partners), with its messageId, sentAt and anonymousId: the anonymous
	// id becomes an alias of the user.
	full := `{
  "_metadata": {
    "bundled": [
      "Segment.io"
    ],
    "unbundled": [
      "Facebook Pixel"
    ]
  },
  "anonymousId": "3d316d2c-26e8-451f-91be-a0766708c81e",
  "channel": "client",
  "context": {
    "ip": "67.160.210.48",
    "library": {
      "name": "analytics.js",
      "version": "3.8.2"
    },
    "page": {
      "path": "index.html",
      "referrer": "",
      "search": "",
      "title": "",
      "url": "index.html"
    },
    "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/75.0.3770.90 Safari/537.36"
  },
  "integrations": {},
  "messageId": "ajs-18c6f23382e31fad89210c1c022cc068",
  "originalTimestamp": "2019-06-21T16:33:26.060Z",
  "projectId": "T6ayE2GKL8",
  "receivedAt": "2019-06-21T16:33:26.158Z",
  "sentAt": "2019-06-21T16:33:26.060Z",
  "timestamp": "2019-06-21T16:33:26.158Z",
  "traits": {
    "email": "peter@initech.com",
    "logins": 5,
    "name": "Peter Gibbons",
    "plan": "premium"
  },
  "type": "identify",
  "userId": "97980cfea0067",
  "version": 2
}`
	// analytics.js posts from the browser as text/plain, its key in the body.
	withKey := strings.Replace(full, `"version": 2`, `"version": 2, "writeKey": "`+key+`"`, 1)
	status, body, _ = specPost(t, b, "/v1/i", withKey, "Content-Type", "text/plain", "Origin", "https://shop.example")
	require.Equal(t, 200, status, body)
	p, err = b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "97980cfea0067")
	require.NoError(t, err)
	require.Equal(t, "peter@initech.com", p.Email)
	require.Equal(t, map[string]any{"logins": float64(5), "name": "Peter Gibbons", "plan": "premium"}, p.Attributes)
	ext, ok, err := b.Store.AliasedProfile(b.Ctx, store.DefaultWorkspaceID, "3d316d2c-26e8-451f-91be-a0766708c81e")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "97980cfea0067", ext)
}

// An anonymous visitor's events and attributes merge into the identified
// profile on identify; their run goes on with the identified profile (its
// wait_event is woken by the user's event); a replayed messageId is
// recorded once.
func TestSegmentSpecMergeAndReplay(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	admin := b.APIKey(store.DefaultWorkspaceID, "admin")
	res := b.Call("POST", "/api/v1/journeys", admin, []byte(uitest.EventJourney))
	require.Equal(t, 201, res.Status, string(res.Body))
	jid := res.JSON(t)["id"].(string)
	res = b.Call("POST", "/api/v1/journeys/"+jid+"/publish", admin, nil)
	require.Equal(t, 200, res.Status, string(res.Body))
	auth := basic(b.APIKey(store.DefaultWorkspaceID, "events:write", "profiles:write"))
	post := func(path, body string) {
		t.Helper()
		status, out, _ := specPost(t, b, path, body, "Authorization", auth)
		require.Equal(t, 200, status, out)
	}

	// Anonymous: a signup enters the journey, which waits for "paid".
	signup := `{"anonymousId": "anon-1", "event": "signed_up", "properties": {"plan": "pro"}, "messageId": "m-1",
		"context": {"traits": {"referrer": "ad", "plan": "trial"}, "locale": "fr-FR", "timezone": "Europe/Paris"}}`
	post("/v1/track", signup)
	post("/v1/track", signup) // the SDK retried: same messageId
	anon, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "anonymous:anon-1")
	require.NoError(t, err)
	require.Equal(t, "fr-FR", anon.Locale)
	require.Equal(t, "Europe/Paris", anon.Timezone)
	require.Len(t, profileEvents(t, b, "anonymous:anon-1", "signed_up"), 1, "a replayed messageId is not recorded twice")
	b.Drain(b.Engine)
	runs, _, err := b.Store.ListRuns(b.Ctx, store.DefaultWorkspaceID, store.RunFilter{JourneyID: jid, Limit: 10})
	require.NoError(t, err)
	require.Len(t, runs, 1, "the replay entered nothing")
	require.Equal(t, store.RunWaitingEvent, runs[0].Status)
	require.Equal(t, anon.ID, runs[0].ProfileID)

	// The user existed already with a plan; identify ties the two, several
	// times at once (a page load firing identify in two tabs).
	post("/v1/identify", `{"userId": "u-42", "traits": {"plan": "pro", "email": "ada@example.com"}}`)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest("POST", "/v1/identify", strings.NewReader(`{"userId": "u-42", "anonymousId": "anon-1", "traits": {"name": "Ada"}}`))
			req.Header.Set("Authorization", auth)
			resp, err := b.Server.App().Test(req, -1)
			if err == nil && resp.StatusCode != 200 {
				raw, _ := io.ReadAll(resp.Body)
				err = fmt.Errorf("status %d: %s", resp.StatusCode, raw)
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	user, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "u-42")
	require.NoError(t, err)
	require.Equal(t, map[string]any{"plan": "pro", "name": "Ada", "referrer": "ad"}, user.Attributes, "the identified profile's plan wins; the anonymous referrer fills a gap")
	require.Equal(t, "ada@example.com", user.Email)
	require.Equal(t, "fr-FR", user.Locale)
	require.Len(t, profileEvents(t, b, "u-42", "signed_up"), 1, "the anonymous event moved, once")
	require.Empty(t, profileEvents(t, b, "anonymous:anon-1", "signed_up"))
	anon, err = b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "anonymous:anon-1")
	require.NoError(t, err)
	require.Empty(t, anon.Attributes, "the anonymous profile is emptied")
	run, err := b.Store.GetRun(b.Ctx, runs[0].ID)
	require.NoError(t, err)
	require.Equal(t, user.ID, run.ProfileID, "the run goes on with the identified profile")

	// Later anonymous calls land on the user; the user's payment wakes the
	// run that began anonymously.
	post("/v1/page", `{"anonymousId": "anon-1", "name": "Pricing", "properties": {"path": "/pricing"}}`)
	require.Len(t, profileEvents(t, b, "u-42", "Page Viewed"), 1)
	post("/v1/track", `{"userId": "u-42", "anonymousId": "anon-1", "event": "paid", "messageId": "m-2"}`)
	b.Drain(b.Engine)
	run, err = b.Store.GetRun(b.Ctx, runs[0].ID)
	require.NoError(t, err)
	require.Equal(t, store.RunCompleted, run.Status)

	// The same messageId in another call of a batch is still once.
	post("/v1/batch", `{"batch": [{"type": "track", "userId": "u-42", "event": "paid", "messageId": "m-2"},
		{"type": "track", "userId": "u-42", "event": "paid", "messageId": "m-3"}]}`)
	require.Len(t, profileEvents(t, b, "u-42", "paid"), 2)

	// alias ties another anonymous id (Segment's previousId).
	post("/v1/track", `{"anonymousId": "anon-2", "event": "browsed"}`)
	post("/v1/alias", `{"previousId": "anon-2", "userId": "u-42"}`)
	require.Len(t, profileEvents(t, b, "u-42", "browsed"), 1)
	// group records the group on the profile.
	post("/v1/group", `{"userId": "u-42", "groupId": "0e8c78ea9d97a7b8185e8632", "traits": {"name": "Initech", "plan": "enterprise"}}`)
	user, err = b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "u-42")
	require.NoError(t, err)
	require.Equal(t, "0e8c78ea9d97a7b8185e8632", user.Attributes["group_id"])
	require.Equal(t, map[string]any{"name": "Initech", "plan": "enterprise"}, user.Attributes["group"])
}

func TestSegmentSpecErrors(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "events:write", "profiles:write")
	auth := basic(key)

	status, body, hdr := specPost(t, b, "/v1/track", `{"userId": "u", "event": "x"}`)
	require.Equal(t, 401, status, body)
	require.Contains(t, hdr.Get("WWW-Authenticate"), "Basic")
	status, body, _ = specPost(t, b, "/v1/track", `{"userId": "u", "event": "x"}`, "Authorization", basic("wmk_nope"))
	require.Equal(t, 401, status, body)
	require.Equal(t, "invalid_api_key", body["error"].(map[string]any)["code"])
	status, body, _ = specPost(t, b, "/v1/track", `{"userId": "u", "event": "x", "writeKey": "wmk_nope"}`)
	require.Equal(t, 401, status, body)
	status, body, _ = specPost(t, b, "/v1/track", `{"userId": "u", "event": "x"}`, "Authorization", basic(b.APIKey(store.DefaultWorkspaceID, "journeys:read")))
	require.Equal(t, 403, status, body)
	eventsOnly := basic(b.APIKey(store.DefaultWorkspaceID, "events:write"))
	status, body, _ = specPost(t, b, "/v1/identify", `{"userId": "u", "traits": {"a": 1}}`, "Authorization", eventsOnly)
	require.Equal(t, 403, status, body)
	require.Contains(t, body["error"].(map[string]any)["message"], "profiles:write")
	status, body, _ = specPost(t, b, "/v1/track", `{"userId": "u", "event": "ok", "context": {"traits": {"a": 1}}}`, "Authorization", eventsOnly)
	require.Equal(t, 200, status, body, "a track with events:write is recorded; its context.traits are not applied")

	for _, tc := range []struct{ path, body, field string }{
		{"/v1/track", `{"userId": "u"}`, "event"},
		{"/v1/track", `{"event": "x"}`, "userId"},
		{"/v1/track", `{"userId": "u", "event": "Bought <b>it</b>!"}`, "event"},
		{"/v1/track", `{"userId": "u", "event": "x", "timestamp": "yesterday"}`, "timestamp"},
		{"/v1/track", `{"userId": "u", "event": "x", "timestamp": "2999-01-01T00:00:00Z"}`, "timestamp"},
		{"/v1/track", `{"userId": "u", "event": "x", "properties": "nope"}`, "properties"},
		{"/v1/track", `{"userId": {"id": 1}, "event": "x"}`, "userId"},
		{"/v1/track", `{"userId": "anonymous:x", "event": "x"}`, "userId"},
		{"/v1/identify", `{"userId": "u", "traits": {"consent": 1, "": 2}}`, "traits."},
		{"/v1/group", `{"userId": "u"}`, "groupId"},
		{"/v1/alias", `{"userId": "u"}`, "previousId"},
		{"/v1/batch", `{"batch": [{"type": "track", "userId": "u", "event": "a"}, {"type": "track", "userId": "u", "event": "b"},
			{"type": "identify", "userId": "u"}, {"type": "track", "userId": "u"}]}`, "batch[3].event"},
		{"/v1/batch", `{"batch": [{"type": "bogus", "userId": "u"}]}`, "batch[0].type"},
		{"/v1/batch", `{"batch": []}`, "batch"},
		{"/v1/batch", `{"batch": [{"type": "track", "userId": "u", "event": "x", "properties": [1]}]}`, "batch[0].properties"},
	} {
		status, body, _ := specPost(t, b, tc.path, tc.body, "Authorization", auth)
		require.Equal(t, 400, status, "%s %s: %v", tc.path, tc.body, body)
		e := body["error"].(map[string]any)
		require.Contains(t, e["message"], tc.field, "%s %s", tc.path, tc.body)
	}
	status, body, _ = specPost(t, b, "/v1/batch", `{"batch": [{"type": "track", "userId": "v", "event": "a"}, {"type": "track", "userId": "v"}]}`, "Authorization", auth)
	require.Equal(t, 400, status)
	require.Equal(t, "batch[1].event: required", body["error"].(map[string]any)["message"])
	_, err := b.Store.GetProfileByExternalID(b.Ctx, store.DefaultWorkspaceID, "v")
	require.ErrorIs(t, err, store.ErrNotFound, "a refused batch applies nothing")

	big := `{"userId": "u", "event": "x", "properties": {"blob": "` + strings.Repeat("a", 33<<10) + `"}}`
	status, body, _ = specPost(t, b, "/v1/track", big, "Authorization", auth)
	require.Equal(t, 400, status, body)
	require.Equal(t, "payload_too_large", body["error"].(map[string]any)["code"])
	status, body, _ = specPost(t, b, "/v1/track", `{"userId": "u", "event": `, "Authorization", auth)
	require.Equal(t, 400, status, body)
	status, body, _ = specPost(t, b, "/v1/nothing", `{}`, "Authorization", auth)
	require.Equal(t, 404, status, body)
	status, body, _ = specPost(t, b, "/v1/track", strings.Repeat("[", 100)+strings.Repeat("]", 100), "Authorization", auth)
	require.Equal(t, 400, status, body)

	req := httptest.NewRequest("OPTIONS", "/v1/batch", nil)
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := b.Server.App().Test(req, -1)
	require.NoError(t, err)
	require.Equal(t, 204, resp.StatusCode)
	require.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
}
