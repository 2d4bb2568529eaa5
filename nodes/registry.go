package nodes

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
)

// Registry holds the node kinds a deployment knows. Build it at start-up
// with [NewRegistry] and [Registry.Register]; it is safe for concurrent
// reads afterwards (and for concurrent registration, though nothing
// needs that).
type Registry struct {
	mu    sync.RWMutex
	specs map[string]Spec
	order []string // registration order
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{specs: map[string]Spec{}}
}

var kindRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)
var fieldNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

// reservedFieldNames would clash with the node's own attributes in
// problem paths.
var reservedFieldNames = map[string]bool{"id": true, "kind": true, "title": true, "position": true, "config": true, "ports": true}

// Register adds a kind. It rejects a duplicate kind and a malformed
// spec (bad names, unknown types, defaults that do not fit their
// field, ports that clash), naming the problem.
func (r *Registry) Register(s Spec) error {
	if err := s.validate(); err != nil {
		return fmt.Errorf("registering node kind %q: %w", s.Kind, err)
	}
	if s.Fields == nil {
		s.Fields = []Field{}
	}
	if s.Ports == nil {
		s.Ports = []Port{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.specs[s.Kind]; dup {
		return fmt.Errorf("registering node kind %q: already registered", s.Kind)
	}
	r.specs[s.Kind] = s
	r.order = append(r.order, s.Kind)
	return nil
}

// MustRegister is Register that panics; for start-up code only.
func (r *Registry) MustRegister(s Spec) {
	if err := r.Register(s); err != nil {
		panic(err)
	}
}

// Lookup returns the spec of a kind.
func (r *Registry) Lookup(kind string) (Spec, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.specs[kind]
	return s, ok
}

// Specs returns every spec, ordered by category (trigger, flow, action)
// then registration order.
func (r *Registry) Specs() []Spec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Spec, 0, len(r.order))
	for _, k := range r.order {
		out = append(out, r.specs[k])
	}
	sort.SliceStable(out, func(i, j int) bool {
		return categoryOrder[out[i].Category] < categoryOrder[out[j].Category]
	})
	return out
}

func (s Spec) validate() error {
	if !kindRE.MatchString(s.Kind) {
		return errors.New("kind must be snake_case, 1-48 characters")
	}
	if s.Title == "" {
		return errors.New("title is required")
	}
	if _, ok := categoryOrder[s.Category]; !ok {
		return fmt.Errorf("unknown category %q", s.Category)
	}
	if err := validateFields("", s.Fields, true); err != nil {
		return err
	}
	if s.Terminal && (len(s.Ports) > 0 || s.DynamicPorts != nil) {
		return errors.New("a terminal kind has no ports")
	}
	if !s.Terminal && len(s.Ports) == 0 && s.DynamicPorts == nil {
		return errors.New("a non-terminal kind needs at least one port")
	}
	ports := map[string]bool{}
	for _, p := range s.Ports {
		if !ValidPortName(p.Name) {
			return fmt.Errorf("invalid port name %q", p.Name)
		}
		if ports[p.Name] {
			return fmt.Errorf("duplicate port %q", p.Name)
		}
		ports[p.Name] = true
		if err := validUnconnected(p.IfUnconnected); err != nil {
			return fmt.Errorf("port %q: %w", p.Name, err)
		}
		if p.EnabledBy != "" {
			if _, ok := s.Field(p.EnabledBy); !ok {
				return fmt.Errorf("port %q: enabled_by names unknown field %q", p.Name, p.EnabledBy)
			}
		}
	}
	if s.DefaultPort != "" && !ports[s.DefaultPort] {
		return fmt.Errorf("default port %q is not a static port", s.DefaultPort)
	}
	if d := s.DynamicPorts; d != nil {
		f, ok := s.Field(d.Field)
		if !ok || f.Type != List {
			return fmt.Errorf("dynamic ports: field %q is not a list field", d.Field)
		}
		found := false
		for _, it := range f.Items {
			if it.Name == d.NameKey && it.Type == String {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("dynamic ports: list %q has no string key %q", d.Field, d.NameKey)
		}
		if err := validUnconnected(d.IfUnconnected); err != nil {
			return fmt.Errorf("dynamic ports: %w", err)
		}
	}
	if s.Category == Trigger && (s.Waits || s.Acts || s.Terminal) {
		return errors.New("a trigger cannot wait, act or be terminal")
	}
	return s.validateAction()
}

func validUnconnected(u Unconnected) error {
	switch u {
	case "", MustConnect, Complete, Fail:
		return nil
	}
	return fmt.Errorf("unknown if_unconnected %q", u)
}

func validateFields(prefix string, fields []Field, top bool) error {
	names := map[string]bool{}
	for _, f := range fields {
		if !fieldNameRE.MatchString(f.Name) {
			return fmt.Errorf("field %q: name must be snake_case", prefix+f.Name)
		}
		if top && reservedFieldNames[f.Name] {
			return fmt.Errorf("field %q: reserved name", f.Name)
		}
		if names[f.Name] {
			return fmt.Errorf("duplicate field %q", prefix+f.Name)
		}
		names[f.Name] = true
		if !f.Type.Valid() {
			return fmt.Errorf("field %q: unknown type %q", prefix+f.Name, f.Type)
		}
		if f.Title == "" {
			return fmt.Errorf("field %q: title is required", prefix+f.Name)
		}
		if (f.Type == Enum) != (len(f.Enum) > 0) {
			return fmt.Errorf("field %q: enum values go with type enum only", prefix+f.Name)
		}
		if (f.Type == List) != (len(f.Items) > 0) {
			return fmt.Errorf("field %q: items go with type list only", prefix+f.Name)
		}
		if (f.Type == Connector) != (f.Channel != "") {
			return fmt.Errorf("field %q: channel goes with type connector only", prefix+f.Name)
		}
		if f.Type == Connector && !ValidChannel(f.Channel) {
			return fmt.Errorf("field %q: invalid channel %q", prefix+f.Name, f.Channel)
		}
		if f.Type == List {
			if !top {
				return fmt.Errorf("field %q: lists cannot nest", prefix+f.Name)
			}
			if err := validateFields(prefix+f.Name+"[].", f.Items, false); err != nil {
				return err
			}
		}
		if f.Default != nil {
			if f.Required {
				return fmt.Errorf("field %q: a field with a default is not required", prefix+f.Name)
			}
			if _, errs := f.normalize(f.Name, f.Default); len(errs) > 0 {
				return fmt.Errorf("field %q: default: %s", prefix+f.Name, errs[0].Message)
			}
		}
		if f.When != nil {
			var dep *Field
			for i := range fields {
				if fields[i].Name == f.When.Field {
					dep = &fields[i]
				}
			}
			if dep == nil || dep.Type != Enum {
				return fmt.Errorf("field %q: when refers to %q, which is not an enum field", prefix+f.Name, f.When.Field)
			}
			for _, v := range f.When.Values {
				if !contains(dep.Enum, v) {
					return fmt.Errorf("field %q: when value %q is not in %s's enum", prefix+f.Name, v, dep.Name)
				}
			}
		}
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}
