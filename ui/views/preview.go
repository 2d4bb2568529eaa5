package views

// PreviewWarning is a problem with what a template reads of the profile
// (ui/web/preview_check.go): Kind is "missing" (on the previewed
// profile), "rare" (on too many recent profiles) or "unknown" (on all of
// them: a typo?); Fix is a placeholder to use instead.
type PreviewWarning struct {
	Attribute string
	Kind      string
	Message   string
	Fix       string
}

// PreviewAs is whom a node's template previews render for: a real
// profile or the sample.
type PreviewAs struct {
	Label      string // "Ada (sample profile)" or the profile's email or id
	ExternalID string // "": the sample
	ProfileURL string // the profile's page
	// CanPick: the user may read profiles, so may preview as one.
	CanPick   bool
	SearchURL string
	// Note says why a choice was dropped (the profile is gone).
	Note string
}

// PreviewPick is one profile a search for "Preview as" found.
type PreviewPick struct {
	ExternalID string
	Email      string
	Name       string
}

// PreviewPicks is the answer of a "Preview as" search.
type PreviewPicks struct {
	Query string
	Picks []PreviewPick
	More  bool
	Error string
}

// NodePreview is whom a node's template previews render for, and the
// warnings of each template field, by form field name ("f.subject").
// nil: the sample profile, no warnings.
type NodePreview struct {
	As       PreviewAs
	Warnings map[string][]PreviewWarning
}

// Label is the heading of a preview: whom it renders for.
func (pv *NodePreview) Label() string {
	if pv == nil || pv.As.Label == "" {
		return "Preview for the sample profile"
	}
	return "Preview for " + pv.As.Label
}

func (pv *NodePreview) warnings(name string) []PreviewWarning {
	if pv == nil {
		return nil
	}
	return pv.Warnings[name]
}
