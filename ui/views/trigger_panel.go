package views

import "strconv"

// TriggerPanel is the "Connect" part of a trigger's property panel
// (ui/web/trigger_panel.go): how data reaches the trigger.
type TriggerPanel struct {
	Hook  *HookPanel  // webhook triggers
	Event *EventPanel // event triggers
}

// HookPanel shows a webhook trigger's URL, signing secret and scheme, a
// signed curl example, and the "Listen for a test request" area.
type HookPanel struct {
	JourneyID string
	// Available: the server has webhook triggers (a secret key to seal
	// their secrets with).
	Available bool
	URL       string // "" while the journey has no hook yet
	Scheme    string // standard or github
	// CanManage: may reveal and copy the secret, rotate it and change the
	// scheme (journeys:write).
	CanManage bool
	// CanListen: may listen for a test request and see its body
	// (profiles:read: bodies are personal data).
	CanListen bool
	Revealed  bool
	Secrets   []HookSecret // when revealed, newest first
	Curl      string       // when revealed: a signed request, ready to paste
	// RotateNote says what a rotation does, for its confirmation.
	RotateNote string
	Notice     string
	Error      string
	Listen     HookListen
}

// SchemeTitle names the hook's signature scheme.
func (h HookPanel) SchemeTitle() string {
	if h.Scheme == "github" {
		return "GitHub-style (X-Hub-Signature-256)"
	}
	return "Standard Webhooks (webhook-signature)"
}

// HookSecret is one valid signing secret.
type HookSecret struct {
	Value string
	Label string // "Signing secret", or "Previous secret, valid until …"
}

// HookListen is the "Listen for a test request" area.
type HookListen struct {
	// State is idle, listening or timeout.
	State     string
	ListenURL string // POST: start listening
	PollURL   string // GET: the area again while listening
	StopURL   string // GET: stop polling, keep what arrived
	UntilText string // when listening ends
	Arrivals  []HookArrival
	// Sample is the newest arrival whose body can be picked from.
	Sample  *HookArrival
	Targets []FillTarget
	Error   string
}

// HookArrival is one request that arrived while someone listened.
type HookArrival struct {
	At      string
	Status  int
	Code    string
	Outcome string // what the sender was answered, in words
	OK      bool   // 2xx
	RunID   string
	Tree    *SampleNode // the body, when it is JSON
	Raw     string      // the body, when it is not JSON
	Note    string      // why no body is shown
}

// SampleNode is one value of a captured JSON body. Expr is the expression
// that reads it (event.body.user.id); clicking it writes Expr into the
// chosen mapping field.
type SampleNode struct {
	Key      string // the object key, "[i]" for an array item, "body" for the root
	Expr     string
	Kind     string // object, array, string, number, bool, null
	Value    string // a leaf's value, as JSON
	Children []SampleNode
	More     int // children left out (the tree is bounded)
}

// Leaf says whether n has no children to show.
func (n SampleNode) Leaf() bool { return n.Kind != "object" && n.Kind != "array" }

// Summary is what an object or array shows after its key.
func (n SampleNode) Summary() string {
	count := len(n.Children) + n.More
	switch {
	case n.Kind == "object" && count == 0:
		return "{}"
	case n.Kind == "object":
		return "{…}"
	case count == 0:
		return "[]"
	}
	return "[" + strconv.Itoa(count) + "]"
}

// FillTarget is a mapping field a sample's value can be written into.
type FillTarget struct {
	Field string // the form field's name, f.profile_id
	Label string
}

// EventPanel shows an event trigger's sample request and the event names
// the workspace has received.
type EventPanel struct {
	EventName string
	Curl      string
	Recent    []RecentEvent
	// CanPick: the panel is editable, so a recent name can fill the event
	// field.
	CanPick bool
}

// RecentEvent is an event name the workspace received.
type RecentEvent struct {
	Name     string
	LastSeen string
	Current  bool // the trigger's event name
}
