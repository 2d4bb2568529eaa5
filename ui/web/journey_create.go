package web

import (
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/waymarkhq/waymark/flows"
	"github.com/waymarkhq/waymark/internal/journeys"
	"github.com/waymarkhq/waymark/ui/internal/httpkit"
	"github.com/waymarkhq/waymark/ui/views"
)

// newJourneyForm builds the "new journey" page: a blank journey or one of
// the gallery's templates.
func (h *Handler) newJourneyForm(f views.NewJourneyForm) (views.NewJourneyForm, error) {
	all, err := galleryTemplates()
	if err != nil {
		return f, err
	}
	reg := h.journeys.Registry()
	for _, t := range all {
		trigger := t.Trigger
		if sp, ok := reg.Lookup(t.Trigger); ok {
			trigger = sp.Title
		}
		f.Templates = append(f.Templates, views.TemplateCard{Key: t.Key, Name: t.Name, Description: t.Description, Nodes: t.Nodes, Trigger: trigger})
	}
	return f, nil
}

func (h *Handler) journeyNewForm(c *fiber.Ctx) error {
	f, err := h.newJourneyForm(views.NewJourneyForm{Errors: views.FieldErrors{}})
	if err != nil {
		return err
	}
	return render(c, views.NewJourneyPage(h.appPageScripts(c, "New journey"), f))
}

// journeyCreate makes a journey from the form: blank (name required) or
// from a template (its name unless one is given). It opens the editor.
func (h *Handler) journeyCreate(c *fiber.Ctx) error {
	name := strings.TrimSpace(c.FormValue("name"))
	key := c.FormValue("template")
	f := views.NewJourneyForm{Name: name, Errors: views.FieldErrors{}}
	var doc []byte
	switch {
	case key != "":
		t, ok, err := findTemplate(key)
		if err != nil {
			return err
		}
		if !ok {
			f.Errors["template"] = "There is no template named “" + clipString(key, 64) + "”. Choose one below."
			break
		}
		j, err := flows.Parse(t.Doc)
		if err != nil {
			return err
		}
		if name != "" {
			j.Name = name
		}
		if doc, err = flows.Marshal(j); err != nil {
			return err
		}
	case name == "":
		f.Errors["name"] = "Give the journey a name."
	}
	if utf8.RuneCountInString(name) > flows.MaxTitleLength {
		f.Errors["name"] = "Use at most 256 characters."
	} else if strings.ContainsAny(name, "\r\n\t\x00") {
		f.Errors["name"] = "Use a single line without control characters."
	}
	if len(f.Errors) > 0 {
		f, err := h.newJourneyForm(f)
		if err != nil {
			return err
		}
		return h.renderStatus(c, fiber.StatusUnprocessableEntity, views.NewJourneyPage(h.appPageScripts(c, "New journey"), f))
	}
	if doc == nil {
		var err error
		if doc, err = flows.Marshal(&flows.Journey{Format: flows.Format, Name: name}); err != nil {
			return err
		}
	}
	j, _, err := h.journeys.Create(c.UserContext(), httpkit.Workspace(c), doc, httpkit.ActorName(c), journeys.SaveOptions{AllowInvalid: true})
	if err != nil {
		return httpkit.JourneyError(err)
	}
	summary := map[string]any{"name": j.Name}
	if key != "" {
		summary["template"] = key
	}
	if err := httpkit.Audit(c, h.store, "journey.create", "journey", j.ID, summary); err != nil {
		return err
	}
	return c.Redirect("/journeys/"+j.ID+"/edit", fiber.StatusSeeOther)
}

// journeyDuplicate copies a journey's draft into a new draft journey.
func (h *Handler) journeyDuplicate(c *fiber.Ctx) error {
	ctx, ws := c.UserContext(), httpkit.Workspace(c)
	src, err := h.store.GetJourney(ctx, ws, c.Params("id"))
	if err != nil {
		return httpkit.JourneyError(err)
	}
	j, err := flows.Parse(src.Draft)
	if err != nil {
		j = &flows.Journey{Format: flows.Format}
	}
	j.Name = copyName(src.Name, "Copy of ", "")
	doc, err := flows.Marshal(j)
	if err != nil {
		return err
	}
	created, _, err := h.journeys.Create(ctx, ws, doc, httpkit.ActorName(c), journeys.SaveOptions{AllowInvalid: true})
	if err != nil {
		return httpkit.JourneyError(err)
	}
	if err := httpkit.Audit(c, h.store, "journey.create", "journey", created.ID, map[string]any{"name": created.Name, "duplicate_of": src.ID}); err != nil {
		return err
	}
	return c.Redirect("/journeys/"+created.ID+"/edit", fiber.StatusSeeOther)
}

// appPageScripts is a normal page with the small app.js (confirmations).
func (h *Handler) appPageScripts(c *fiber.Ctx, title string) views.Page {
	p := h.page(c, title)
	p.Scripts = []string{h.assetURLs["app.js"]}
	return p
}
