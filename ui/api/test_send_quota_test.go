package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// TestTestSendQuotaAPI: test sends have a quota (issue 17, F11: a
// journeys:write key sent 100 test messages to arbitrary addresses in
// 0.3 s). 20 per key in 10 minutes, even when the requests come at once,
// then 429 with Retry-After; 100 per workspace in an hour, across keys.
func TestTestSendQuotaAPI(t *testing.T) {
	t.Parallel()
	b, _, _ := uitest.SetupTestSends(t, true)
	newKey := func() string { return b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write") }
	key := newKey()
	r := b.Call("POST", "/api/v1/journeys?allow_invalid=true", key, []byte(testSendDoc))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	path := "/api/v1/journeys/" + id + "/test-send"
	send := func(key string, i int) uitest.APIResp {
		req := httptest.NewRequest("POST", path, bytes.NewReader([]byte(fmt.Sprintf(`{"node": "hello", "to": "victim%d@example.com"}`, i))))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := b.Server.App().Test(req, -1)
		if err != nil {
			return uitest.APIResp{Status: -1, Body: []byte(err.Error())}
		}
		body, _ := io.ReadAll(resp.Body)
		return uitest.APIResp{Status: resp.StatusCode, Header: resp.Header, Body: body}
	}

	// 30 at once with one key: exactly 20 go out.
	results := make([]uitest.APIResp, 30)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = send(key, i) }()
	}
	wg.Wait()
	byStatus := map[int]int{}
	for _, res := range results {
		byStatus[res.Status]++
		if res.Status != 429 {
			continue
		}
		var body struct {
			Error struct{ Code, Message string }
		}
		require.NoError(t, json.Unmarshal(res.Body, &body), string(res.Body))
		require.Equal(t, "test_send_quota", body.Error.Code)
		require.Contains(t, body.Error.Message, "at most 20 test sends in 10 minutes for this API key")
		wait, err := strconv.Atoi(res.Header.Get("Retry-After"))
		require.NoError(t, err, "Retry-After is whole seconds: %q", res.Header.Get("Retry-After"))
		require.True(t, wait > 0 && wait <= 600, "Retry-After %d is within the 10-minute window", wait)
	}
	require.Equal(t, map[int]int{200: 20, 429: 10}, byStatus)
	sent, err := b.Store.ListTestSends(b.Ctx, store.DefaultWorkspaceID, id, 500)
	require.NoError(t, err)
	require.Len(t, sent, 20, "refused tests are neither sent nor recorded")

	// A refused request that never reached a connector gives its place
	// back: another key's invalid test does not count.
	other := newKey()
	r = b.Call("POST", path, other, []byte(`{"node": "gone", "to": "+14155550123"}`))
	require.Equal(t, 422, r.Status, string(r.Body))

	// Each key has its own allowance, up to the workspace's 100 an hour.
	for k := 0; k < 4; k++ {
		if k > 0 {
			other = newKey()
		}
		for i := 0; i < 20; i++ {
			r := send(other, 100+20*k+i)
			require.Equal(t, 200, r.Status, "key %d, send %d: %s", k+2, i+1, r.Body)
		}
	}
	r = send(newKey(), 999)
	require.Equal(t, 429, r.Status, string(r.Body))
	require.Contains(t, string(r.Body), "at most 100 test sends in 1 hour for this workspace")
	require.NotEmpty(t, r.Header.Get("Retry-After"))
}

// TestTestSendQuotaUI: the property panel says plainly that the limit is
// reached and when to try again.
func TestTestSendQuotaUI(t *testing.T) {
	t.Parallel()
	b, _, _ := uitest.SetupTestSends(t, true)
	b.CreateUser("ed@example.com", "correct horse battery", store.RoleEditor)
	c := b.Client()
	csrf := c.Login("ed@example.com", "correct horse battery")
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := b.Call("POST", "/api/v1/journeys?allow_invalid=true", key, []byte(testSendDoc))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	post := func(i int) string {
		resp, html := c.PostForm("/journeys/"+id+"/test-send", url.Values{"_csrf": {csrf}, "ts_node": {"hello"}, "ts_version": {"0"},
			"ts_to": {fmt.Sprintf("me%d@example.com", i)}})
		require.Equal(t, 200, resp.StatusCode, html)
		return html
	}
	for i := 0; i < 20; i++ {
		require.Contains(t, post(i), `data-testid="test-send-ok"`, "send %d", i+1)
	}
	html := post(20)
	require.Contains(t, html, `data-testid="test-send-error"`)
	require.Regexp(t, `test-send limit reached: at most 20 test sends in 10 minutes for you; try again in \d+ (minutes?|seconds?)`, html)
	// The API key of the same workspace has its own allowance.
	r = b.Call("POST", "/api/v1/journeys/"+id+"/test-send", key, []byte(`{"node": "hello", "to": "me@example.com"}`))
	require.Equal(t, 200, r.Status, string(r.Body))
}
