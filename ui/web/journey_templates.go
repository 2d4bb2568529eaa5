package web

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/waymarkhq/waymark/flows"
)

// templatesFS holds the templates gallery: copies of the journeys in
// flows/testdata (a test keeps them identical), so every template is a
// document the model's own tests validate.
//
//go:embed templates_gallery/*.json
var templatesFS embed.FS

// journeyTemplate is one starting point in the gallery.
type journeyTemplate struct {
	Key         string // file name without .json
	Name        string
	Description string
	Nodes       int
	Trigger     string // the first trigger's kind
	Doc         []byte
}

// findTemplate returns the gallery template with this key.
func findTemplate(key string) (journeyTemplate, bool, error) {
	all, err := galleryTemplates()
	if err != nil {
		return journeyTemplate{}, false, err
	}
	for _, t := range all {
		if t.Key == key {
			return t, true, nil
		}
	}
	return journeyTemplate{}, false, nil
}

// templateDescriptions say what each template is for, in a marketer's words.
var templateDescriptions = map[string]string{
	"abandoned_cart": "Remind shoppers who left items behind: an email after an hour, then an SMS if they still have not ordered.",
	"ad_retargeting": "Sync lapsed buyers to an ad audience every day and take them out again when they order.",
	"birthday":       "Wish every customer a happy birthday on the day, with a reminder a few days before.",
	"lead_scoring":   "Score leads from their activity and hand the hot ones to your CRM through a webhook.",
	"reengagement":   "Win back inactive customers with an A/B tested email and a holdout group to measure the lift.",
	"welcome_series": "Greet new sign-ups, wait for the right moment, and nudge them towards their first purchase.",
}

// galleryTemplates reads the gallery once, ordered by name.
var galleryTemplates = sync.OnceValues(loadTemplates)

func loadTemplates() ([]journeyTemplate, error) {
	entries, err := templatesFS.ReadDir("templates_gallery")
	if err != nil {
		return nil, err
	}
	var out []journeyTemplate
	for _, e := range entries {
		b, err := templatesFS.ReadFile(path.Join("templates_gallery", e.Name()))
		if err != nil {
			return nil, err
		}
		j, err := flows.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", e.Name(), err)
		}
		t := journeyTemplate{
			Key: strings.TrimSuffix(e.Name(), ".json"), Name: j.Name, Nodes: len(j.Nodes), Doc: b,
		}
		t.Description = templateDescriptions[t.Key]
		for _, n := range j.Nodes {
			if strings.HasPrefix(n.Kind, "trigger_") {
				t.Trigger = n.Kind
				break
			}
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Name < out[k].Name })
	return out, nil
}
