package views

// EditorPage is the journey editor's state: the page around the canvas.
// The canvas itself is drawn by the editor's modules (static/editor/, canvas.js) from Data.
type EditorPage struct {
	JourneyID   string
	Name        string
	Status      string
	LiveVersion int
	// Version is 0 for the draft, or the published version shown read-only.
	Version     int
	VersionNote string // "Published by … on …" for a version
	ReadOnly    bool
	ReadOnlyWhy string
	// CanEdit: the user's role may edit (pause, resume, archive too).
	CanEdit bool
	// StatsVersion is the version whose numbers the canvas shows (the one
	// viewed, else the live one); 0: none (never published).
	StatsVersion int
	Palette      []PaletteGroup
	// Data is the canvas's JSON: journey, document, node catalogue, problems.
	Data any
}

// PaletteGroup is one category of node kinds in the palette.
type PaletteGroup struct {
	Category string
	Title    string
	Items    []PaletteItem
}

// PaletteItem is a node kind that can be dragged onto the canvas.
type PaletteItem struct {
	Kind     string
	Title    string
	Help     string
	Category string
}

// NodeForm is the property panel of one node, generated from its kind's
// spec.
type NodeForm struct {
	Action     string // where changes are posted
	NodeID     string
	Kind       string
	KindTitle  string
	Category   string
	Help       string
	Title      string
	TitleError string
	// Explicit lists fields written with their default value.
	Explicit string
	ReadOnly bool
	Fields   []FormField
	// Errors are problems with the node's config as a whole.
	Errors []string
	// Result goes back to the canvas: the config as the server read it.
	Result any
	// TestSend, when set, gives the node a "Send test" control.
	TestSend *TestSendTarget
	// Trigger, when set, gives a trigger node its "Connect" section
	// (trigger_panel.go).
	Trigger *TriggerPanel
}

// SettingsForm is the journey settings panel.
type SettingsForm struct {
	Action   string
	ReadOnly bool
	Sections []FormSection
	Errors   []string
	Result   any
}

// FormSection groups settings fields.
type FormSection struct {
	Title  string
	Help   string
	Fields []FormField
}

// FormField is one input of a generated form.
type FormField struct {
	Name        string // form field name, e.g. "f.cases.0.expr"
	ID          string // element id
	Label       string
	Help        string
	Placeholder string
	// Input is the widget: text, code, textarea, html, select, time,
	// datetime, number, checkbox, weekdays, list.
	Input     string
	Type      string // the spec's field type, for styling and tests
	Required  bool
	Value     string
	Checked   bool
	Selected  map[string]bool // weekdays
	Options   []Option
	Min, Max  string
	MaxLength int
	Rows      int
	Error     string
	// Preview is a template rendered on the sample profile.
	Preview      string
	PreviewError string
	HasPreview   bool
	// List fields.
	Items     []ListItem
	ItemTitle string
	AddValue  string // submit value of the "add" button
	MaxItems  int
	Total     *Total
	// Percent marks an integer that counts towards a running total.
	Percent bool
}

// Option is one choice of a select.
type Option struct {
	Value string
	Label string
}

// ListItem is one object of a list field.
type ListItem struct {
	Index       int
	Fields      []FormField
	RemoveValue string
}

// Total is the running total of percentage fields (split weights).
type Total struct {
	Sum  int64
	Want int64
}

// OK reports whether the total is right.
func (t Total) OK() bool { return t.Sum == t.Want }

// Weekdays in the order the picker shows them.
var Weekdays = []Option{{"mon", "Mon"}, {"tue", "Tue"}, {"wed", "Wed"}, {"thu", "Thu"}, {"fri", "Fri"}, {"sat", "Sat"}, {"sun", "Sun"}}

// PublishReview is the publish dialog: problems, or the diff to confirm.
type PublishReview struct {
	JourneyID    string
	Name         string
	Revision     int
	LiveVersion  int
	Problems     []ProblemItem
	Changes      []ChangeGroup
	FirstPublish bool
	Nodes, Edges int
	NoChanges    bool
	Error        string
}

// ProblemItem is a validation problem shown in a list; NodeID lets the
// editor focus the node.
type ProblemItem struct {
	NodeID     string
	NodeTitle  string
	Field      string
	FieldLabel string // the field as its labels name it ("Variant 1 › Port name")
	Message    string
}

// ChangeGroup is one section of a diff (added nodes, changed nodes…).
type ChangeGroup struct {
	Title string
	Kind  string // added, removed, changed, moved, settings
	Items []ChangeItem
}

// ChangeItem is one line of a diff.
type ChangeItem struct {
	Label   string
	Details []string
}

// Published is what the publish dialog shows after publishing.
type Published struct {
	JourneyID string
	Version   int
	Status    string
	Result    any
}

// HistoryPage lists a journey's published versions.
type HistoryPage struct {
	JourneyID   string
	Name        string
	Status      string
	LiveVersion int
	Versions    []VersionRow
}

// VersionRow is one published version.
type VersionRow struct {
	Version     int
	PublishedBy string
	PublishedAt string
	Live        bool
}
