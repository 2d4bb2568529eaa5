package web

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// connectorDetail loads what a connector's page shows. shown, when not
// nil, replaces the stored values in the form (a re-rendered submission).
func (h *Handler) connectorDetail(c *fiber.Ctx, id string, shown map[string]any) (views.ConnectorDetail, error) {
	u, _ := httpkit.User(c)
	ctx := c.UserContext()
	v, err := h.connectors.Get(ctx, u.WorkspaceID, id)
	if err != nil {
		return views.ConnectorDetail{}, httpkit.ConnectorError(err)
	}
	if v.Builtin {
		return views.ConnectorDetail{}, httpkit.NotFound("connector")
	}
	t, ok := h.connectors.Registry().Lookup(v.Type)
	if !ok {
		return views.ConnectorDetail{}, fmt.Errorf("connector %s has unknown type %q", v.ID, v.Type)
	}
	b, err := h.connectors.Backlog(ctx, u.WorkspaceID, v.ID)
	if err != nil {
		return views.ConnectorDetail{}, err
	}
	values := v.Config
	name := v.Name
	if shown != nil {
		values = shown
	}
	d := views.ConnectorDetail{
		ID: v.ID, Name: v.Name, TypeTitle: t.Title, Kinds: kindsText(v.Kinds), Enabled: v.Enabled,
		Status: views.ConnectorStatus{Rate: rateText(v.RateLimit), Pending: b.Pending, Delay: delayText(b.ExpectedDelay)},
		Form:   views.ConnectorForm{ID: v.ID, Type: t.Name, TypeTitle: t.Title, Name: name, Fields: connectorFormFields(t, values, v.SecretsSet), Errors: views.FieldErrors{}},
	}
	if b.LimiterKnown {
		d.Status.Throttled, d.Status.Tokens = fmt.Sprint(b.Throttled), connNumber(float64(int(b.Tokens*10))/10)
	}
	return d, nil
}

func (h *Handler) connectorEdit(c *fiber.Ctx) error {
	d, err := h.connectorDetail(c, c.Params("id"), nil)
	if err != nil {
		return err
	}
	p := h.page(c, d.Name)
	if c.Query("saved") == "1" {
		p.Flash = "Connector saved."
	}
	return render(c, views.ConnectorPage(p, d))
}

func (h *Handler) connectorUpdate(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	id := c.Params("id")
	v, err := h.connectors.Get(c.UserContext(), u.WorkspaceID, id)
	if err != nil {
		return httpkit.ConnectorError(err)
	}
	t, ok := h.connectors.Registry().Lookup(v.Type)
	if !ok || v.Builtin {
		return httpkit.NotFound("connector")
	}
	cfg, shown := parseConfigForm(c, t)
	name := strings.TrimSpace(c.FormValue("name"))
	up, changed, err := h.connectors.Update(c.UserContext(), u.WorkspaceID, id, connectors.Patch{Name: &name, Config: cfg, ReplaceConfig: true})
	if err != nil {
		fe, msg := formErrors(err)
		var iu *connectors.InUseError
		switch {
		case fe != nil:
		case errors.As(err, &iu):
			fe, msg = views.FieldErrors{"name": "Published journeys use this name: " + strings.Join(useList(iu), "; ")}, "The connector cannot be renamed while published journeys name it."
		case errors.Is(err, store.ErrConflict):
			fe, msg = views.FieldErrors{"name": "A connector with this name already exists."}, "Please correct the fields marked below."
		default:
			return httpkit.ConnectorError(err)
		}
		d, derr := h.connectorDetail(c, id, shown)
		if derr != nil {
			return derr
		}
		d.Form.Name, d.Form.Errors, d.Form.FormError = name, fe, msg
		return h.renderStatus(c, fiber.StatusUnprocessableEntity, views.ConnectorPage(h.page(c, d.Name), d))
	}
	if len(changed) > 0 {
		if err := httpkit.Audit(c, h.store, "connector.update", "connector", up.ID, map[string]any{"name": up.Name, "changed": changed}); err != nil {
			return err
		}
	}
	return c.Redirect("/connectors/"+url.PathEscape(up.ID)+"?saved=1", fiber.StatusSeeOther)
}

func useList(iu *connectors.InUseError) []string {
	out := make([]string, len(iu.Journeys))
	for i, j := range iu.Journeys {
		out[i] = fmt.Sprintf("%s (%s, v%d: %s)", j.Name, j.Status, j.Version, strings.Join(j.NodeIDs, ", "))
	}
	return out
}

// connectorCheck runs "Check connection" or "Send test" and shows the
// provider's answer on the connector's page.
func (h *Handler) connectorCheck(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	id := c.Params("id")
	to := strings.TrimSpace(c.FormValue("to"))
	res, err := h.connectors.Test(c.UserContext(), u.WorkspaceID, id, to)
	if err != nil {
		return httpkit.ConnectorError(err)
	}
	if err := httpkit.Audit(c, h.store, "connector.test", "connector", id, map[string]any{"ok": res.OK, "send": to != ""}); err != nil {
		return err
	}
	d, err := h.connectorDetail(c, id, nil)
	if err != nil {
		return err
	}
	d.TestRan, d.TestOK, d.TestDetail, d.TestTo = true, res.OK, res.Detail, to
	return render(c, views.ConnectorPage(h.page(c, d.Name), d))
}

func (h *Handler) connectorSetEnabled(enabled bool) fiber.Handler {
	action := map[bool]string{true: "connector.enable", false: "connector.disable"}[enabled]
	return func(c *fiber.Ctx) error {
		u, _ := httpkit.User(c)
		v, err := h.connectors.SetEnabled(c.UserContext(), u.WorkspaceID, c.Params("id"), enabled)
		if err != nil {
			return httpkit.ConnectorError(err)
		}
		if err := httpkit.Audit(c, h.store, action, "connector", v.ID, map[string]any{"name": v.Name}); err != nil {
			return err
		}
		return c.Redirect("/connectors/"+url.PathEscape(v.ID)+"?saved=1", fiber.StatusSeeOther)
	}
}

// connectorDelete deletes, or shows which published journeys prevent it.
func (h *Handler) connectorDelete(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	id := c.Params("id")
	v, err := h.connectors.Delete(c.UserContext(), u.WorkspaceID, id)
	var iu *connectors.InUseError
	if errors.As(err, &iu) {
		d, derr := h.connectorDetail(c, id, nil)
		if derr != nil {
			return derr
		}
		d.DeleteError = "Published journeys use this connector; change or archive them before deleting it:"
		d.InUse = useList(iu)
		return h.renderStatus(c, fiber.StatusConflict, views.ConnectorPage(h.page(c, d.Name), d))
	}
	if err != nil {
		return httpkit.ConnectorError(err)
	}
	if err := httpkit.Audit(c, h.store, "connector.delete", "connector", v.ID, map[string]any{"name": v.Name, "type": v.Type}); err != nil {
		return err
	}
	return c.Redirect("/connectors", fiber.StatusSeeOther)
}
