package views

// KV is a labelled value shown as text.
type KV struct {
	Key   string
	Value string
}

// RunRow is one run in the run explorer.
type RunRow struct {
	ID          string
	JourneyID   string
	JourneyName string
	Version     int
	ProfileExt  string // the profile's external id ("" when erased)
	Status      string
	CurrentNode string
	// CurrentTitle is the step the run is at, by its title (the node id
	// when its version has no such step).
	CurrentTitle string
	EnteredAt    string
	UpdatedAt    string
	Error        string
}

// RunsPage is the run explorer: filters and a page of runs.
type RunsPage struct {
	Journey  string
	Profile  string // external id
	Email    string
	Status   string
	Node     string
	Journeys []Option
	Statuses []string
	// Steps are the steps of the chosen journey's live version (or its
	// draft) for the "At step" filter; empty: the filter takes a step id.
	Steps   []Option
	Rows    []RunRow
	NextURL string
	Problem string // why the filter found nothing, e.g. an unknown profile
	// LinkProfiles: the viewer may open profiles (profiles:read), so
	// profile ids are links.
	LinkProfiles bool
}

// StepRow is one ledger step in a run's timeline.
type StepRow struct {
	Seq       int
	Time      string
	NodeID    string
	NodeTitle string
	Kind      string
	Port      string
	Outcome   string
	Details   []KV // the values that decided the step
	// DetailsHidden: the values are profile data the viewer may not read
	// (an update_profile step's attribute values).
	DetailsHidden bool
	Error         string
	DeliveryID    string
}

// DeliveryRow is one message of a run or a profile.
type DeliveryRow struct {
	ID        string
	RunID     string
	Seq       int
	NodeID    string
	NodeTitle string
	Channel   string
	Connector string
	Recipient string
	Subject   string
	Status    string
	Error     string
	Attempts  int
	Created   string
}

// RunPage is one run: its state, timeline and messages.
type RunPage struct {
	Run        RunRow
	WaitUntil  string
	WaitEvent  string
	FinishedAt string
	Converted  string
	Entry      string // the entry event as indented JSON, size-capped ("" when hidden)
	// Personal: the viewer reads profile data (profiles:read), so
	// recipients, subjects, the entry event and written attribute values
	// are shown; otherwise they are left out and the page says so.
	Personal   bool
	Steps      []StepRow
	Deliveries []DeliveryRow
	CanCancel  bool
	CanRetry   bool
	// MoveTargets are the nodes an admin may move the run to (node id →
	// label); empty: no move form.
	MoveTargets []KV
	Notice      string
	// LinkProfiles: the viewer may open profiles (profiles:read).
	LinkProfiles bool
}

// EventRow is one of a profile's events.
type EventRow struct {
	Name       string
	OccurredAt string
	Properties string
}

// ProfilePage shows a profile: attributes, consent, events, runs, messages.
type ProfilePage struct {
	ExternalID string
	Email      string
	Phone      string
	Timezone   string
	Locale     string
	Created    string
	Updated    string
	Attributes []KV
	Consent    []KV
	Events     []EventRow
	Runs       []RunRow
	Deliveries []DeliveryRow
	BestHour   BestHourView // intelligence.templ
}
