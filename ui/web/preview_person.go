package web

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
	"github.com/waymarkhq/waymark/worker"
)

// "Preview as a real person" (docs/editor.md): a node's template previews
// render for the sample profile or for a profile the user picked, by
// email or id, on the panel. The choice is the form's _preview_as field
// (a submit button), kept per journey in a cookie, so it holds as the
// user selects other steps and reloads. Picking a profile shows its data,
// so it needs profiles:read; without it previews use the sample.

const (
	previewCookie      = "wm_preview_as"
	maxPreviewAsLength = 200
	maxPreviewPicks    = 8
)

// previewPerson is whom previews render for.
type previewPerson struct {
	profile *store.Profile // nil: the sample
	as      views.PreviewAs
	recent  []store.Profile // the newest profiles, when the user may read them
	// history gives an env the picked profile's event history, at the
	// current time (nil: none, as for the sample).
	history func(env *expression.Env)
}

func (p *previewPerson) env() *expression.Env {
	env := sampleEnv()
	if p != nil && p.profile != nil {
		pr := p.profile
		env.Profile = expression.Profile(expression.ProfileFields{ExternalID: pr.ExternalID, Email: pr.Email, Phone: pr.Phone,
			Timezone: pr.Timezone, Locale: pr.Locale}, pr.Attributes)
		if p.history != nil {
			p.history(env)
		}
	}
	return env
}

// check warns about what src reads of the profile.
func (p *previewPerson) check(src string) []views.PreviewWarning {
	if p == nil {
		return nil
	}
	who := "The sample profile"
	if p.profile != nil {
		who = p.as.Label
	}
	return checkProfileRefs(templateProfileRefs(src), p.profile, who, p.recent)
}

// view is the panel's preview data for a node of these fields and config.
func (p *previewPerson) view(fields []nodes.Field, cfg map[string]any) *views.NodePreview {
	if p == nil {
		return nil
	}
	out := &views.NodePreview{As: p.as, Warnings: map[string][]views.PreviewWarning{}}
	for _, f := range fields {
		if src, _ := cfg[f.Name].(string); f.Type.IsTemplate() && strings.TrimSpace(src) != "" {
			if ws := p.check(src); len(ws) > 0 {
				out.Warnings["f."+f.Name] = ws
			}
		}
	}
	return out
}

func hasTemplateField(fields []nodes.Field) bool {
	for _, f := range fields {
		if f.Type.IsTemplate() {
			return true
		}
	}
	return false
}

// previewPerson reads whom the user previews journeyID's templates as:
// the posted _preview_as (and then remembers it), else the cookie.
func (h *Handler) previewPerson(c *fiber.Ctx, journeyID string) (*previewPerson, error) {
	u, _ := httpkit.User(c)
	canPick := httpkit.RoleAllows(u.Role, httpkit.PermProfilesRead)
	p := &previewPerson{as: views.PreviewAs{Label: "Ada (the sample profile)", CanPick: canPick,
		SearchURL: "/journeys/" + url.PathEscape(journeyID) + "/panel/profiles"}}
	if !canPick {
		return p, nil
	}
	ext, posted := "", false
	if v := c.Request().PostArgs().Peek("_preview_as"); v != nil {
		ext, posted = strings.TrimSpace(string(v)), true
	} else if v := c.Cookies(previewCookie); v != "" {
		ext, _ = url.QueryUnescape(v)
	}
	if len(ext) > maxPreviewAsLength {
		return nil, httpkit.BadRequest("_preview_as: at most %d characters", maxPreviewAsLength)
	}
	ctx := c.UserContext()
	if ext != "" {
		pr, err := h.store.GetProfileByExternalID(ctx, u.WorkspaceID, ext)
		switch {
		case errors.Is(err, store.ErrNotFound):
			p.as.Note = "No profile " + clipString(ext, 64) + " any more: previews use the sample profile."
			ext, posted = "", true
		case err != nil:
			return nil, err
		default:
			p.profile = &pr
			p.history = func(env *expression.Env) {
				hs, _ := any(h.store).(worker.HistoryStore) // nil: "event history is not available here"
				env.Now = h.cfg.Now().UTC()
				worker.AttachHistory(ctx, env, hs, nil, u.WorkspaceID, pr.ID)
			}
			p.as.ExternalID = pr.ExternalID
			p.as.Label = firstNonEmpty(pr.Email, pr.ExternalID)
			p.as.ProfileURL = "/profiles/" + url.PathEscape(pr.ExternalID)
		}
	}
	if posted {
		h.rememberPreview(c, journeyID, ext)
	}
	recent, err := recentProfiles(ctx, h.store, u.WorkspaceID)
	if err != nil {
		return nil, err
	}
	p.recent = recent
	return p, nil
}

func (h *Handler) rememberPreview(c *fiber.Ctx, journeyID, ext string) {
	ck := &fiber.Cookie{Name: previewCookie, Value: url.QueryEscape(ext), Path: "/journeys/" + journeyID + "/panel",
		HTTPOnly: true, Secure: h.cfg.CookieSecure, SameSite: fiber.CookieSameSiteStrictMode, MaxAge: 30 * 24 * 3600}
	if ext == "" {
		ck.MaxAge, ck.Expires = -1, time.Unix(1, 0)
	}
	c.Cookie(ck)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// recentStore reads the newest profiles (store.RecentProfiles).
type recentStore interface {
	RecentProfiles(ctx context.Context, workspaceID string, limit int) ([]store.Profile, error)
}

// The newest profiles are read at most every recentTTL per workspace
// (a panel re-renders on every field change), for at most
// recentWorkspaces workspaces at once.
const (
	recentTTL        = 30 * time.Second
	recentWorkspaces = 64
)

var recentCache = struct {
	sync.Mutex
	m map[string]recentEntry
}{m: map[string]recentEntry{}}

type recentEntry struct {
	at       time.Time
	profiles []store.Profile
}

func recentProfiles(ctx context.Context, st any, ws string) ([]store.Profile, error) {
	rs, ok := st.(recentStore)
	if !ok {
		return nil, nil
	}
	now := time.Now()
	key := fmt.Sprintf("%p/%s", rs, ws) // one cache per store (tests run several)
	recentCache.Lock()
	e, hit := recentCache.m[key]
	recentCache.Unlock()
	if hit && now.Sub(e.at) < recentTTL {
		return e.profiles, nil
	}
	ps, err := rs.RecentProfiles(ctx, ws, recentProfilesChecked)
	if err != nil {
		return nil, err
	}
	recentCache.Lock()
	defer recentCache.Unlock()
	if len(recentCache.m) >= recentWorkspaces {
		for k, v := range recentCache.m {
			if now.Sub(v.at) >= recentTTL || len(recentCache.m) >= recentWorkspaces {
				delete(recentCache.m, k)
			}
		}
	}
	recentCache.m[key] = recentEntry{at: now, profiles: ps}
	return ps, nil
}

// previewProfiles answers the "Preview as" search: GET
// /journeys/:id/panel/profiles?_preview_q=… lists the profiles whose email
// or id starts with it (store.ListProfiles), as buttons of the node form.
func (h *Handler) previewProfiles(c *fiber.Ctx) error {
	if _, _, err := h.panelJourney(c); err != nil {
		return err
	}
	q := strings.TrimSpace(c.Query("_preview_q"))
	if q == "" {
		q = strings.TrimSpace(c.Query("q"))
	}
	if len(q) > maxPreviewAsLength {
		return httpkit.BadRequest("q: at most %d characters", maxPreviewAsLength)
	}
	out := views.PreviewPicks{Query: q}
	if q != "" {
		list, err := h.store.ListProfiles(c.UserContext(), httpkit.Workspace(c), store.ProfileQuery{Search: q, Limit: maxPreviewPicks + 1})
		if err != nil {
			return err
		}
		ps := list.Profiles
		if len(ps) > maxPreviewPicks {
			ps, out.More = ps[:maxPreviewPicks], true
		}
		out.More = out.More || list.Next != ""
		for _, p := range ps {
			name, _ := p.Attributes["first_name"].(string)
			if last, _ := p.Attributes["last_name"].(string); last != "" {
				name = strings.TrimSpace(name + " " + last)
			}
			out.Picks = append(out.Picks, views.PreviewPick{ExternalID: p.ExternalID, Email: p.Email, Name: clipString(name, 64)})
		}
	}
	c.Set(fiber.HeaderCacheControl, "private, no-store")
	return render(c, views.PreviewPicksView(out))
}
