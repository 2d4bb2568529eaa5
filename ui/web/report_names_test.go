package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/uitest"
)

// TestReportStepsAndMoves: the report lists a version's steps by title
// with their numbers, and after a publish that moved runs it says what
// moved: on the new version that the moved runs brought their history,
// on the old one that moved runs count on the later version. The
// migration planner names steps by title too.
func TestReportStepsAndMoves(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := b.Call("POST", "/api/v1/journeys", key, []byte(uitest.PlanV1))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	require.Equal(t, 200, b.Call("POST", "/api/v1/journeys/"+id+"/publish", key, nil).Status)
	b.ParkRuns(id, 3)
	r = b.Call("PUT", "/api/v1/journeys/"+id+"/draft", key, []byte(uitest.PlanV2))
	require.Equal(t, 200, r.Status, string(r.Body))

	b.CreateUser("ed@example.com", "correct horse battery", store.RoleEditor)
	c := b.Client()
	c.Login("ed@example.com", "correct horse battery")

	// The planner: live steps by title with their kind, targets by title.
	resp, page := c.Get("/journeys/" + id + "/publish")
	require.Equal(t, 200, resp.StatusCode, page)
	row := regexp.MustCompile(`(?s)data-testid="migration-row" data-node-id="wait">.*?</tr>`).FindString(page)
	require.Contains(t, row, "Wait a day")
	require.Contains(t, row, `<span class="muted small">Delay</span>`)
	require.Contains(t, row, "Move to Wait two days (Delay)")
	require.Contains(t, row, "Move to Send email</option>", "an untitled step reads as its kind, once")
	require.NotContains(t, row, "(send_email)")
	require.NotContains(t, row, "wait2d (")
	require.Contains(t, row, `hx-trigger="change"`, "choosing a move checks the plan at once")
	hello := regexp.MustCompile(`(?s)data-testid="migration-row" data-node-id="hello">.*?</tr>`).FindString(page)
	require.Contains(t, hello, "<td>Send email ")
	require.NotContains(t, hello, `<span class="muted small"></span>`)
	require.Contains(t, page, `<li data-node-id="wait"><strong>Wait a day:</strong>`, "a plan problem names its step")

	// The diff names steps by title and kind.
	diff := regexp.MustCompile(`(?s)data-testid="publish-diff".*?</div>`).FindString(page)
	require.Contains(t, diff, "Wait two days (Delay)")
	require.Contains(t, diff, "Wait a day (Delay)")
	require.Contains(t, diff, "Added: Event (start) → Wait two days", "an untitled step by its kind, its id after it")
	require.NotContains(t, diff, "(delay)")

	// Choosing a move redraws the totals (the dry run the select posts).
	csrf := uitest.CSRFFrom(t, page)
	resp, page = c.PostForm("/journeys/"+id+"/publish?dry_run=1", url.Values{"_csrf": {csrf}, "plan.wait": {"move:wait2d"}})
	require.Equal(t, 200, resp.StatusCode, page)
	require.Regexp(t, `Waiting runs: 0 stay, 3 move, 0 exit.`, page)
	require.Contains(t, page, `data-testid="plan-ok"`)

	rev := regexp.MustCompile(`name="revision" value="(\d+)"`).FindStringSubmatch(page)[1]
	resp, page = c.PostForm("/journeys/"+id+"/publish", url.Values{"_csrf": {csrf}, "revision": {rev}, "plan.wait": {"move:wait2d"}})
	require.Equal(t, 200, resp.StatusCode, page)
	require.Contains(t, page, "Version 2 is live")

	// v2's report: steps by title; the moved runs' history says so.
	resp, page = c.Get("/journeys/" + id + "/report")
	require.Equal(t, 200, resp.StatusCode, page)
	steps := regexp.MustCompile(`(?s)data-testid="steps-table".*?</table>`).FindString(page)
	require.Contains(t, steps, "Wait two days")
	require.Contains(t, steps, "Wait a day", "the moved runs' step on v1")
	require.Contains(t, steps, `<span class="badge">earlier version</span>`)
	waitRow := regexp.MustCompile(`(?s)data-node-id="wait">.*?</tr>`).FindString(steps)
	require.Contains(t, waitRow, `data-testid="step-moved">3<`)
	wait2d := regexp.MustCompile(`(?s)data-node-id="wait2d">.*?</tr>`).FindString(steps)
	require.Contains(t, wait2d, `data-testid="step-waiting">3<`)
	require.Contains(t, page, `data-testid="steps-moved-in"`)
	require.Regexp(t, `data-testid="steps-moved-in">3 moves`, page)
	require.Equal(t, 2, strings.Count(page, `data-testid="steps-version"`), "v1 and v2")
	require.NotContains(t, page, `data-testid="steps-older"`)

	// v1's: its runs moved on, and it says where they count.
	resp, page = c.Get("/journeys/" + id + "/report?version=1")
	require.Equal(t, 200, resp.StatusCode, page)
	require.Contains(t, page, "Steps of version 1")
	require.Contains(t, page, `data-testid="steps-older"`)
	require.NotContains(t, page, `data-testid="steps-moved-in"`)

	for q, status := range map[string]int{"version=x": 400, "version=0": 400, "version=-1": 400, "version=9": 404, "version=99999999999": 400} {
		resp, _ = c.Get("/journeys/" + id + "/report?" + q)
		require.Equal(t, status, resp.StatusCode, q)
	}

	// The stats JSON says the same.
	r = b.Call("GET", "/api/v1/journeys/"+id+"/stats", key, nil)
	require.Equal(t, 200, r.Status)
	require.Contains(t, string(r.Body), `"moved_in":3`)
}

// TestReportEmpty: a journey with nothing yet says so instead of drawing
// an axis from 0 to 1 over nothing.
func TestReportEmpty(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	r := b.Call("POST", "/api/v1/journeys", key, []byte(uitest.PlanV1))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	b.CreateUser("vi@example.com", "correct horse battery", store.RoleViewer)
	c := b.Client()
	c.Login("vi@example.com", "correct horse battery")
	resp, page := c.Get("/journeys/" + id + "/report")
	require.Equal(t, 200, resp.StatusCode, page)
	require.Contains(t, page, "Nothing in this period yet")
	require.Contains(t, page, "The journey has no live version yet.")
	require.NotContains(t, page, `data-testid="steps-table"`)
}

// TestPublishProblemLabels: the publish review names a problem's step by
// its title and its field by the spec's labels, keeping the path for
// focusing it.
func TestPublishProblemLabels(t *testing.T) {
	t.Parallel()
	b := uitest.Setup(t)
	key := b.APIKey(store.DefaultWorkspaceID, "journeys:read", "journeys:write")
	doc := `{"format": 1, "name": "Bad split", "nodes": [
		{"id": "start", "kind": "trigger_event", "config": {"event": "signup"}},
		{"id": "ab", "kind": "split", "title": "A/B <test>", "config": {"variants": [{"name": "Control", "weight": 50}, {"name": "b", "weight": 50}]}}],
		"edges": [{"from": "start", "to": "ab"}]}`
	r := b.Call("POST", "/api/v1/journeys?allow_invalid=true", key, []byte(doc))
	require.Equal(t, 201, r.Status, string(r.Body))
	id := r.JSON(t)["id"].(string)
	b.CreateUser("ed@example.com", "correct horse battery", store.RoleEditor)
	c := b.Client()
	c.Login("ed@example.com", "correct horse battery")
	resp, page := c.Get("/journeys/" + id + "/publish")
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	require.Contains(t, page, `data-testid="publish-problems"`)
	require.Contains(t, page, "A/B &lt;test&gt;")
	require.Contains(t, page, `title="variants[0].name" data-testid="problem-field">Variant 1 › Port name</span>`)
	require.NotContains(t, page, `>variants[0].name<`)
}
