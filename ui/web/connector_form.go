package web

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/connectors"
	"github.com/waymarkhq/waymark/nodes"
	"github.com/waymarkhq/waymark/store"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// The admin form is generated from the connector type's field spec: one
// input per field, named "config.<field>". Secret inputs are always empty
// (write-only): left blank they keep the stored value.

const cfgPrefix = "config."

// formFields builds the inputs for a type. values are the non-secret
// values to show (stored or submitted); secretsSet names the stored secrets.
func connectorFormFields(t connectors.Type, values map[string]any, secretsSet []string) []views.ConnectorField {
	out := make([]views.ConnectorField, 0, len(t.Fields))
	for _, f := range t.Fields {
		in := views.ConnectorField{Name: cfgPrefix + f.Name, Label: f.Title, Required: f.Required, Help: f.Help, Placeholder: f.Placeholder}
		v, has := values[f.Name]
		if !has && f.Default != nil && !f.Secret {
			v, has = f.Default, true
		}
		switch {
		case f.Secret:
			in.Kind = "password"
			if f.Type == nodes.Text {
				in.Kind = "secret-textarea"
			}
			in.SecretSet = slices.Contains(secretsSet, f.Name)
			in.Clearable = in.SecretSet && !f.Required
			in.AskedAgainIf = destinationsOf(t, f.Name)
		case f.Type == nodes.Boolean:
			in.Kind = "checkbox"
			in.Checked, _ = v.(bool)
		case f.Type == nodes.Enum:
			in.Kind, in.Options = "select", f.Enum
			if !f.Required && f.Default == nil {
				in.Options = append([]string{""}, f.Enum...)
			}
			in.Value = fmt.Sprint(valueOr(v, has, ""))
		case f.Type == nodes.Integer || f.Type == nodes.Number:
			in.Kind, in.Step = "number", "1"
			if f.Type == nodes.Number {
				in.Step = "any"
			}
			if f.Min != nil {
				in.Min = connNumber(*f.Min)
			}
			if f.Max != nil {
				in.Max = connNumber(*f.Max)
			}
			if has {
				in.Value = formatValue(v)
			}
		case f.Type == nodes.Text:
			in.Kind = "textarea"
			in.Value = fmt.Sprint(valueOr(v, has, ""))
		default:
			in.Kind = "text"
			in.Value = fmt.Sprint(valueOr(v, has, ""))
		}
		out = append(out, in)
	}
	return out
}

// destinationsOf names (by label) the destination fields that carry a
// secret: changing one asks for the secret again (connectors.Destination).
func destinationsOf(t connectors.Type, secret string) string {
	var labels []string
	for _, d := range t.Destinations {
		if slices.Contains(d.Secrets, secret) {
			if f, ok := t.Field(d.Field); ok {
				labels = append(labels, f.Title)
			}
		}
	}
	return strings.Join(labels, " or ")
}

func valueOr(v any, has bool, def any) any {
	if !has || v == nil {
		return def
	}
	return v
}

func formatValue(v any) string {
	switch x := v.(type) {
	case float64:
		return connNumber(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

func connNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// parseConfigForm reads the submitted config: typed values for the type's
// fields, empty inputs left out (so defaults apply and secrets are kept),
// and nil for optional secrets the admin asked to remove.
func parseConfigForm(c *fiber.Ctx, t connectors.Type) (map[string]any, map[string]any) {
	cfg := map[string]any{}
	shown := map[string]any{} // what to show back on a re-rendered form
	for _, f := range t.Fields {
		name := cfgPrefix + f.Name
		raw := c.FormValue(name)
		switch {
		case f.Secret:
			if c.FormValue(name+".clear") == "true" {
				cfg[f.Name] = nil
			} else if raw != "" {
				cfg[f.Name] = raw
			}
			continue
		case f.Type == nodes.Boolean:
			cfg[f.Name] = raw == "true" || raw == "on"
		case raw == "":
			continue
		case f.Type == nodes.Integer || f.Type == nodes.Number:
			if n, err := strconv.ParseFloat(strings.TrimSpace(raw), 64); err == nil {
				cfg[f.Name] = n
			} else {
				cfg[f.Name] = raw // the spec reports "expected a number"
			}
		default:
			cfg[f.Name] = raw
		}
		shown[f.Name] = cfg[f.Name]
	}
	return cfg, shown
}

// formErrors maps the service's problems onto the form's inputs; problems
// without an input of their own become the form-level message.
func formErrors(err error) (views.FieldErrors, string) {
	var ve *connectors.ValidationError
	if !errors.As(err, &ve) {
		return nil, ""
	}
	fe := views.FieldErrors{}
	var general []string
	for _, p := range ve.Problems {
		switch p.Field {
		case "name":
			fe["name"] = capitalise(p.Message)
		case "type", "config":
			general = append(general, capitalise(p.Message))
		default:
			fe[cfgPrefix+p.Field] = capitalise(p.Message)
		}
	}
	msg := "Please correct the fields marked below."
	if len(general) > 0 {
		msg = strings.Join(general, " ")
	}
	return fe, msg
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func kindsText(kinds []string) string { return strings.Join(kinds, ", ") }

// connectorNew shows the type chooser, or with ?type= the empty form.
func (h *Handler) connectorNew(c *fiber.Ctx) error {
	reg := h.connectors.Registry()
	typeName := c.Query("type")
	if typeName == "" {
		var choices []views.ConnectorTypeChoice
		for _, t := range reg.Types() {
			if t.Builtin {
				continue
			}
			choices = append(choices, views.ConnectorTypeChoice{Name: t.Name, Title: t.Title, Help: t.Help, Kinds: kindsText(t.Kinds)})
		}
		return render(c, views.ConnectorTypesPage(h.page(c, "New connector"), choices))
	}
	t, ok := reg.Lookup(typeName)
	if !ok || t.Builtin {
		return httpkit.NotFound("connector type " + strconvQuote(typeName))
	}
	f := views.ConnectorForm{Type: t.Name, TypeTitle: t.Title, TypeHelp: t.Help, Fields: connectorFormFields(t, nil, nil), Errors: views.FieldErrors{}}
	return render(c, views.ConnectorNewPage(h.page(c, "New "+t.Title+" connector"), f))
}

func strconvQuote(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strconv.Quote(s)
}

func (h *Handler) connectorCreate(c *fiber.Ctx) error {
	u, _ := httpkit.User(c)
	t, ok := h.connectors.Registry().Lookup(c.FormValue("type"))
	if !ok || t.Builtin {
		return httpkit.BadRequest("unknown connector type")
	}
	cfg, shown := parseConfigForm(c, t)
	name := strings.TrimSpace(c.FormValue("name"))
	v, err := h.connectors.Create(c.UserContext(), u.WorkspaceID, connectors.Input{Type: t.Name, Name: name, Config: cfg})
	if err != nil {
		fe, msg := formErrors(err)
		if fe == nil {
			if !errors.Is(err, store.ErrConflict) {
				return httpkit.ConnectorError(err)
			}
			fe, msg = views.FieldErrors{"name": "A connector with this name already exists."}, "Please correct the fields marked below."
		}
		f := views.ConnectorForm{Type: t.Name, TypeTitle: t.Title, TypeHelp: t.Help, Name: name, Fields: connectorFormFields(t, shown, nil), Errors: fe, FormError: msg}
		return h.renderStatus(c, fiber.StatusUnprocessableEntity, views.ConnectorNewPage(h.page(c, "New "+t.Title+" connector"), f))
	}
	if err := httpkit.Audit(c, h.store, "connector.create", "connector", v.ID, map[string]any{"name": v.Name, "type": v.Type, "secrets_set": v.SecretsSet}); err != nil {
		return err
	}
	return c.Redirect("/connectors/"+url.PathEscape(v.ID)+"?saved=1", fiber.StatusSeeOther)
}
