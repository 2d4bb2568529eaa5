package nodes

import (
	"encoding/json"
	"strconv"
)

// Category groups kinds in the palette and tells the engine how a node
// enters the graph.
type Category string

// Categories, in palette order.
const (
	Trigger Category = "trigger" // starts runs; has no incoming edges
	Flow    Category = "flow"    // routes, waits or ends a run
	Action  Category = "action"  // changes something: sends, syncs, updates
)

// categoryOrder is the order of categories in [Registry.Specs].
var categoryOrder = map[Category]int{Trigger: 0, Flow: 1, Action: 2}

// FieldType is the type of a config field. It decides how a value is
// validated, how it is normalised in a [Config], and which input the
// editor shows.
type FieldType string

// Field types. The JSON value each one expects is given in brackets.
const (
	String     FieldType = "string"      // single-line text [string]
	Text       FieldType = "text"        // multi-line text [string]
	Expression FieldType = "expression"  // expression producing any value [string]
	Condition  FieldType = "condition"   // expression that must produce a boolean [string]
	Template   FieldType = "template"    // text with {{ expression }} placeholders [string]
	HTML       FieldType = "html"        // template rendered with HTML escaping [string]
	JSON       FieldType = "json"        // JSON text with {{ expression }} placeholders [string]
	Duration   FieldType = "duration"    // e.g. "90m", "2h", "3d", "1w2d" [string]
	TimeOfDay  FieldType = "time_of_day" // "HH:MM", 24-hour [string]
	Weekdays   FieldType = "weekdays"    // e.g. ["mon","wed"] [array of strings]
	Timezone   FieldType = "timezone"    // IANA name, e.g. "Europe/Paris" [string]
	Cron       FieldType = "cron"        // 5-field cron spec or @daily-style descriptor [string]
	Connector  FieldType = "connector"   // name of a connector serving Field.Channel [string]
	Integer    FieldType = "integer"     // whole number [number]
	Number     FieldType = "number"      // any number [number]
	Boolean    FieldType = "boolean"     // [true/false]
	Enum       FieldType = "enum"        // one of Field.Enum [string]
	List       FieldType = "list"        // list of objects shaped by Field.Items [array of objects]
)

// Field declares one config field of a node kind (or of the items of a
// list field).
type Field struct {
	Name     string    `json:"name"`
	Title    string    `json:"title"`
	Type     FieldType `json:"type"`
	Required bool      `json:"required"`
	// Default is used when the field is absent. Its Go type matches the
	// field type's normalised form (see [Config]); durations are strings.
	Default any      `json:"default,omitempty"`
	Enum    []string `json:"enum,omitempty"`
	// Min and Max bound integer and number fields, the length of list
	// fields (item count), and duration fields (in seconds).
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// MaxLength bounds string-like fields, in bytes. Zero means the
	// type's default limit.
	MaxLength   int    `json:"max_length,omitempty"`
	Help        string `json:"help,omitempty"`
	Placeholder string `json:"placeholder,omitempty"`
	Secret      bool   `json:"secret,omitempty"`
	// Channel is the channel a connector field needs: email, sms,
	// webhook or audience.
	Channel string `json:"channel,omitempty"`
	// Items declares the keys of each object in a list field.
	Items []Field `json:"items,omitempty"`
	// When makes the field apply only while another field of the same
	// object has one of the given values. An inactive field is not
	// required; if present it is still type-checked, then ignored.
	When *When `json:"when,omitempty"`
}

// When is the condition under which a field applies.
type When struct {
	Field  string   `json:"field"`
	Values []string `json:"values"`
}

// Active reports whether f applies given the raw or normalised config it
// belongs to.
func (f Field) Active(cfg map[string]any) bool {
	if f.When == nil {
		return true
	}
	v, ok := cfg[f.When.Field]
	if !ok {
		return false
	}
	s, ok := v.(string)
	if !ok {
		return false
	}
	for _, want := range f.When.Values {
		if s == want {
			return true
		}
	}
	return false
}

// Unconnected says what happens when a run leaves a node through a port
// that has no edge.
type Unconnected string

// Policies for unconnected ports.
const (
	// MustConnect: the port must have an edge; validation fails otherwise.
	MustConnect Unconnected = "required"
	// Complete: the run ends normally (status completed).
	Complete Unconnected = "complete"
	// Fail: the run ends with status failed, keeping the node's error.
	Fail Unconnected = "fail"
)

// Port is an output of a node.
type Port struct {
	Name  string `json:"name"`
	Title string `json:"title,omitempty"`
	// IfUnconnected is what an unconnected port means. Empty means
	// MustConnect.
	IfUnconnected Unconnected `json:"if_unconnected"`
	// EnabledBy names a config field; the port exists only when that
	// field is set to a non-zero value (e.g. split's holdout).
	EnabledBy string `json:"enabled_by,omitempty"`
	Help      string `json:"help,omitempty"`
}

// Required reports whether the port must be connected.
func (p Port) Required() bool { return p.IfUnconnected == "" || p.IfUnconnected == MustConnect }

// DynamicPorts declares ports made from a list field: one port per item,
// named by the item's NameKey. Dynamic ports come before static ports.
type DynamicPorts struct {
	Field         string      `json:"field"`
	NameKey       string      `json:"name_key"`
	IfUnconnected Unconnected `json:"if_unconnected"`
}

// FieldError is a problem with one config field, found by a kind's own
// cross-field check. Field is a path such as "variants[1].weight".
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Spec declares a node kind.
type Spec struct {
	Kind     string   `json:"kind"`
	Title    string   `json:"title"`
	Category Category `json:"category"`
	Help     string   `json:"help"`
	Fields   []Field  `json:"fields"`
	Ports    []Port   `json:"ports"`
	// DefaultPort is the port an edge without "port" leaves. Empty means
	// the node's only port (an edge from a node with several ports must
	// then name one).
	DefaultPort string `json:"default_port,omitempty"`
	// DynamicPorts, when set, adds one port per item of a list field.
	DynamicPorts *DynamicPorts `json:"dynamic_ports,omitempty"`
	// Waits: the run parks here (delay, wait_event); a loop in the graph
	// must pass through a waiting node.
	Waits bool `json:"waits"`
	// Acts: the node talks to the outside through a connector; the
	// engine ends the current task before it. A kind that acts declares
	// what it does in Action.
	Acts bool `json:"acts"`
	// Instant: the node runs inline, in the same task as its predecessor.
	Instant bool `json:"instant"`
	// Terminal: the node ends the run; it has no ports.
	Terminal bool `json:"terminal"`
	// Example is a valid config, shown in the docs and palette and
	// checked by the tests.
	Example map[string]any `json:"example,omitempty"`
	// Starter is the config a new step of this kind starts with in the
	// editor (a split starts as A/B at 50/50); nil starts it empty. It
	// must be valid (checked by the tests).
	Starter map[string]any `json:"-"`
	// Action declares what an acting kind does: its channel, recipient,
	// message, policies and test sends (see ActionSpec).
	Action *ActionSpec `json:"-"`
	// Check validates relations between fields. It gets the normalised
	// config (defaults applied) and is called only when every field has
	// the right type.
	Check func(cfg Config) []FieldError `json:"-"`
}

// Field returns the field with this name.
func (s Spec) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// PortsFor returns the ports of a node of this kind with the given
// config (raw or normalised): dynamic ports first, in item order, then
// the static ports that are enabled. The result may share memory with
// the spec: do not modify it.
func (s Spec) PortsFor(cfg map[string]any) []Port {
	if s.DynamicPorts == nil && !hasEnabledBy(s.Ports) {
		return s.Ports
	}
	var out []Port
	if d := s.DynamicPorts; d != nil {
		for _, item := range listItems(cfg[d.Field]) {
			name, _ := item[d.NameKey].(string)
			if name == "" {
				continue
			}
			out = append(out, Port{Name: name, Title: name, IfUnconnected: d.IfUnconnected})
		}
	}
	for _, p := range s.Ports {
		if p.EnabledBy != "" && !truthy(cfg[p.EnabledBy]) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func hasEnabledBy(ports []Port) bool {
	for _, p := range ports {
		if p.EnabledBy != "" {
			return true
		}
	}
	return false
}

// listItems returns the objects of a raw ([]any) or normalised ([]Config)
// list value.
func listItems(v any) []map[string]any {
	switch l := v.(type) {
	case []Config:
		out := make([]map[string]any, len(l))
		for i, c := range l {
			out[i] = c
		}
		return out
	case []map[string]any:
		return l
	case []any:
		out := make([]map[string]any, 0, len(l))
		for _, e := range l {
			switch m := e.(type) {
			case map[string]any:
				out = append(out, m)
			case Config:
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// truthy reports whether v is set to a non-zero value.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return err == nil && f != 0
	case int:
		return x != 0
	case int64:
		return x != 0
	case float64:
		return x != 0
	}
	return true
}

// Bound returns a pointer to v, for Field.Min and Field.Max.
func Bound(v float64) *float64 { return &v }
