package flows

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/nodes"
)

// ValidateOptions tune validation to a deployment.
type ValidateOptions struct {
	// ConnectorServes reports whether a connector with this name exists,
	// and whether it can serve a node of this kind (e.g. an smtp
	// connector serves send_email). Nil means connectors are not checked
	// (offline validation, e.g. `waymark journeys validate`). The
	// connector named "sandbox" always exists and serves every kind; it
	// is not looked up.
	ConnectorServes func(name, nodeKind string) (exists, serves bool)
}

// validNodeID reports whether id is 1–64 characters of A-Z, a-z, 0-9, _ and -.
func validNodeID(id string) bool {
	if len(id) == 0 || len(id) > MaxNodeIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Validate checks j against the registry and returns every problem
// found, or nil. See the package docs and docs/journey-format.md for
// the rules.
func Validate(reg *nodes.Registry, j *Journey, opts ValidateOptions) []Problem {
	v := newValidator(reg, j, opts, false)
	v.run()
	return v.problems
}

// validator holds one validation's state. In compile mode it compiles
// programs and templates instead of only checking them.
type validator struct {
	reg     *nodes.Registry
	j       *Journey
	opts    ValidateOptions
	compile bool

	problems []Problem
	full     bool

	nodes    map[string]*vnode // by id; only the first node with an id
	exprs    map[exprKey]exprResult
	settings CompiledSettings
}

// vnode is what validation learns about a node.
type vnode struct {
	index   int
	node    *Node
	spec    nodes.Spec
	known   bool // kind is registered
	cfgOK   bool // config normalised without problems
	cfg     nodes.Config
	ports   []nodes.Port
	next    map[string]string // port → target id, for valid edges
	out     []string          // targets of every edge to an existing node, for graph checks
	progs   map[string]*expression.Program
	tmpls   map[string]*expression.Template
	trigger bool
}

type exprKey struct {
	src  string
	kind int // expression.Kind, or 10+expression.Escaping for templates
}

type exprResult struct {
	err  error
	prog *expression.Program
	tmpl *expression.Template
}

func newValidator(reg *nodes.Registry, j *Journey, opts ValidateOptions, compile bool) *validator {
	return &validator{reg: reg, j: j, opts: opts, compile: compile,
		nodes: map[string]*vnode{}, exprs: map[exprKey]exprResult{}}
}

func (v *validator) add(nodeID, field, format string, args ...any) {
	if v.full {
		return
	}
	if len(v.problems) >= MaxProblems {
		v.full = true
		v.problems = append(v.problems, Problem{Message: fmt.Sprintf("too many problems; only the first %d are shown", MaxProblems)})
		return
	}
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	v.problems = append(v.problems, Problem{NodeID: nodeID, Field: field, Message: msg})
}

func (v *validator) run() {
	j := v.j
	if j == nil {
		v.add("", "", "no journey")
		return
	}
	if v.reg == nil {
		v.add("", "", "no node registry")
		return
	}
	if j.Format != Format {
		v.add("", "format", "unsupported format %d: this Waymark reads format %d", j.Format, Format)
	}
	v.checkName()
	if len(j.Nodes) > MaxNodes {
		v.add("", "nodes", "too many nodes (%d, at most %d)", len(j.Nodes), MaxNodes)
	}
	if len(j.Edges) > MaxEdges {
		v.add("", "edges", "too many edges (%d, at most %d)", len(j.Edges), MaxEdges)
	}
	if len(j.Nodes) > MaxNodes || len(j.Edges) > MaxEdges {
		return // bounded work: nothing else is checked on an oversize graph
	}
	v.checkSettings()
	v.precompute()
	v.checkNodes()
	v.checkEdges()
	v.checkPorts()
	v.checkGraph()
}

func (v *validator) checkName() {
	name := v.j.Name
	switch {
	case strings.TrimSpace(name) == "":
		v.add("", "name", "required")
	case !utf8.ValidString(name):
		v.add("", "name", "not valid UTF-8")
	case utf8.RuneCountInString(name) > MaxTitleLength:
		v.add("", "name", "too long (%d characters, at most %d)", utf8.RuneCountInString(name), MaxTitleLength)
	case hasControl(name):
		v.add("", "name", "must not contain control characters")
	}
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

func (v *validator) checkNodes() {
	for i := range v.j.Nodes {
		n := &v.j.Nodes[i]
		id := n.ID
		switch {
		case id == "":
			v.add("", fmt.Sprintf("nodes[%d].id", i), "required")
			continue
		case !validNodeID(id):
			v.add("", fmt.Sprintf("nodes[%d].id", i), "invalid node id %q: use 1-%d of A-Z, a-z, 0-9, _ and -", clip(id, 80), MaxNodeIDLength)
			continue
		}
		if _, dup := v.nodes[id]; dup {
			v.add(id, "id", "duplicate node id %q (nodes[%d])", id, i)
			continue
		}
		vn := &vnode{index: i, node: n}
		v.nodes[id] = vn
		switch {
		case !utf8.ValidString(n.Title):
			v.add(id, "title", "not valid UTF-8")
		case utf8.RuneCountInString(n.Title) > MaxTitleLength:
			v.add(id, "title", "too long (%d characters, at most %d)", utf8.RuneCountInString(n.Title), MaxTitleLength)
		case hasControl(n.Title):
			v.add(id, "title", "must not contain control characters")
		}
		if n.Kind == "" {
			v.add(id, "kind", "required")
			continue
		}
		spec, ok := v.reg.Lookup(n.Kind)
		if !ok {
			v.add(id, "kind", "unknown kind %q", clip(n.Kind, 64))
			continue
		}
		vn.spec, vn.known = spec, true
		vn.trigger = spec.Category == nodes.Trigger
		cfg, errs := spec.Normalize(n.Config)
		for _, e := range errs {
			v.add(id, e.Field, "%s", e.Message)
		}
		vn.cfg = cfg
		vn.cfgOK = len(errs) == 0
		vn.ports = spec.PortsFor(cfg)
		v.checkFieldValues(vn, "", spec.Fields, cfg)
	}
}

// checkFieldValues compiles expressions and templates and checks
// connectors, for the fields present in a normalised config.
func (v *validator) checkFieldValues(vn *vnode, prefix string, fields []nodes.Field, cfg nodes.Config) {
	id := vn.node.ID
	for _, f := range fields {
		val, ok := cfg[f.Name]
		if !ok {
			continue
		}
		path := prefix + f.Name
		info, _ := f.Type.Info()
		switch {
		case info.Code.IsExpression():
			r := v.expr(val.(string), exprKinds[info.Code])
			if r.err != nil {
				v.add(id, path, "%v", r.err)
			} else if r.prog != nil {
				if vn.progs == nil {
					vn.progs = map[string]*expression.Program{}
				}
				vn.progs[path] = r.prog
			}
		case info.Code.IsTemplate():
			r := v.template(val.(string), escapings[info.Code])
			if r.err != nil {
				v.add(id, path, "%v", r.err)
			} else if r.tmpl != nil {
				if vn.tmpls == nil {
					vn.tmpls = map[string]*expression.Template{}
				}
				vn.tmpls[path] = r.tmpl
			}
		case f.Type == nodes.Connector:
			v.checkConnector(vn, path, val.(string))
		case f.Type == nodes.List:
			for i, item := range val.([]nodes.Config) {
				v.checkFieldValues(vn, fmt.Sprintf("%s[%d].", path, i), f.Items, item)
			}
		}
	}
}

func (v *validator) checkConnector(vn *vnode, path, name string) {
	if name == SandboxConnector || v.opts.ConnectorServes == nil {
		return
	}
	exists, serves := v.opts.ConnectorServes(name, vn.spec.Kind)
	switch {
	case !exists:
		v.add(vn.node.ID, path, "unknown connector %q", clip(name, 64))
	case !serves:
		v.add(vn.node.ID, path, "connector %q cannot be used by %s", clip(name, 64), vn.spec.Kind)
	}
}

// expr checks (or compiles) an expression once per validation.
func (v *validator) expr(src string, kind expression.Kind) exprResult {
	key := exprKey{src: src, kind: int(kind)}
	r, ok := v.exprs[key]
	if !ok {
		r = v.computeExpr(key)
		v.exprs[key] = r
	}
	return r
}

// template checks (or parses) a template once per validation.
func (v *validator) template(src string, esc expression.Escaping) exprResult {
	key := exprKey{src: src, kind: 10 + int(esc)}
	r, ok := v.exprs[key]
	if !ok {
		r = v.computeExpr(key)
		v.exprs[key] = r
	}
	return r
}

// parallelThreshold is the number of distinct expressions and templates
// from which precompute spreads the work over all CPUs.
const parallelThreshold = 32

// precompute checks (or compiles) the distinct expressions and templates
// of every node in parallel, filling the cache that checkNodes then
// reads. Compiling dominates the cost of validating a large journey.
func (v *validator) precompute() {
	var jobs []exprKey
	seen := map[exprKey]bool{}
	addJob := func(f nodes.Field, val any) {
		src, ok := val.(string)
		if !ok || src == "" {
			return
		}
		info, _ := f.Type.Info()
		var key exprKey
		switch {
		case info.Code.IsExpression():
			key = exprKey{src, int(exprKinds[info.Code])}
		case info.Code.IsTemplate():
			key = exprKey{src, 10 + int(escapings[info.Code])}
		default:
			return
		}
		if !seen[key] {
			seen[key] = true
			jobs = append(jobs, key)
		}
	}
	for i := range v.j.Nodes {
		n := &v.j.Nodes[i]
		spec, ok := v.reg.Lookup(n.Kind)
		if !ok {
			continue
		}
		for _, f := range spec.Fields {
			val := n.Config[f.Name]
			if f.Type != nodes.List {
				addJob(f, val)
				continue
			}
			items, _ := val.([]any)
			for _, it := range items {
				m, _ := it.(map[string]any)
				for _, sub := range f.Items {
					addJob(sub, m[sub.Name])
				}
			}
		}
	}
	if len(jobs) < parallelThreshold {
		return // checkNodes does them as it goes
	}
	results := make([]exprResult, len(jobs))
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				results[i] = v.computeExpr(jobs[i])
			}
		}()
	}
	wg.Wait()
	for i, k := range jobs {
		v.exprs[k] = results[i]
	}
}

// computeExpr checks or compiles one expression or template.
func (v *validator) computeExpr(k exprKey) exprResult {
	var r exprResult
	if k.kind >= 10 {
		esc := expression.Escaping(k.kind - 10)
		if v.compile {
			r.tmpl, r.err = expression.ParseTemplate(k.src, esc)
		} else {
			r.err = expression.CheckTemplate(k.src, esc)
		}
		return r
	}
	kind := expression.Kind(k.kind)
	if v.compile {
		r.prog, r.err = expression.Compile(k.src, kind)
	} else {
		r.err = expression.Check(k.src, kind)
	}
	return r
}

func (v *validator) checkEdges() {
	for i, e := range v.j.Edges {
		from, fromOK := v.nodes[e.From]
		to, toOK := v.nodes[e.To]
		owner := ""
		if fromOK {
			owner = e.From
		}
		if !fromOK {
			if e.From == "" {
				v.add("", fmt.Sprintf("edges[%d].from", i), "required")
			} else {
				v.add("", fmt.Sprintf("edges[%d].from", i), "unknown node %q", clip(e.From, 80))
			}
		}
		if !toOK {
			if e.To == "" {
				v.add(owner, fmt.Sprintf("edges[%d].to", i), "required")
			} else {
				v.add(owner, fmt.Sprintf("edges[%d].to", i), "unknown node %q", clip(e.To, 80))
			}
		}
		if fromOK && toOK && !(from.known && from.spec.Terminal) {
			from.out = append(from.out, e.To)
		}
		if toOK && to.trigger {
			v.add(e.To, fmt.Sprintf("edges[%d].to", i), "a trigger cannot have incoming edges (from %q)", clip(e.From, 80))
		}
		if !fromOK || !from.known {
			continue
		}
		if from.spec.Terminal {
			v.add(e.From, fmt.Sprintf("edges[%d].from", i), "%s ends the run and has no ports", from.spec.Kind)
			continue
		}
		port := e.Port
		if port == "" && from.spec.DefaultPort != "" {
			port = from.spec.DefaultPort
		}
		if port == "" {
			if len(from.ports) != 1 {
				if from.cfgOK {
					v.add(e.From, fmt.Sprintf("edges[%d].port", i), "required: %s has ports %s", from.spec.Kind, portList(from.ports))
				}
				continue
			}
			port = from.ports[0].Name
		} else if !hasPort(from.ports, port) {
			if from.cfgOK {
				v.add(e.From, fmt.Sprintf("edges[%d].port", i), "unknown port %q: %s has ports %s", clip(port, 64), from.spec.Kind, portList(from.ports))
			}
			continue
		}
		if prev, dup := from.next[port]; dup {
			v.add(e.From, fmt.Sprintf("edges[%d].port", i), "port %q is already connected (to %q); a port leads to one node", port, prev)
			continue
		}
		if toOK {
			if from.next == nil {
				from.next = make(map[string]string, len(from.ports))
			}
			from.next[port] = e.To
		}
	}
}

func hasPort(ports []nodes.Port, name string) bool {
	for _, p := range ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

func portList(ports []nodes.Port) string {
	if len(ports) == 0 {
		return "none"
	}
	names := make([]string, len(ports))
	for i, p := range ports {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

func (v *validator) checkPorts() {
	for i := range v.j.Nodes {
		vn := v.nodes[v.j.Nodes[i].ID]
		if vn == nil || vn.index != i || !vn.known || !vn.cfgOK {
			continue
		}
		for _, p := range vn.ports {
			if _, ok := vn.next[p.Name]; !ok && p.Required() {
				v.add(vn.node.ID, "ports."+p.Name, "port %q must be connected", p.Name)
			}
		}
	}
}

// ordered returns the validator's nodes in document order.
func (v *validator) ordered() []*vnode {
	out := make([]*vnode, 0, len(v.nodes))
	for _, vn := range v.nodes {
		out = append(out, vn)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].index < out[b].index })
	return out
}

func (v *validator) checkGraph() {
	all := v.ordered()
	var queue []*vnode
	seen := make([]bool, len(v.j.Nodes)) // by document index
	reached := 0
	for _, vn := range all {
		if vn.trigger {
			queue = append(queue, vn)
			seen[vn.index] = true
			reached++
		}
	}
	if len(queue) == 0 {
		v.add("", "nodes", "a journey needs at least one trigger node")
	}
	for len(queue) > 0 {
		vn := queue[0]
		queue = queue[1:]
		for _, to := range vn.out {
			if t := v.nodes[to]; t != nil && !seen[t.index] {
				seen[t.index] = true
				reached++
				queue = append(queue, t)
			}
		}
	}
	if reached > 0 {
		for _, vn := range all {
			if !seen[vn.index] {
				v.add(vn.node.ID, "", "not reachable from any trigger")
			}
		}
	}
	v.checkLoops(all)
}

// checkLoops reports each cycle that passes through no waiting node
// (a run would spin without pausing). It finds the strongly connected
// components of the graph without waiting nodes (Tarjan, iterative).
func (v *validator) checkLoops(all []*vnode) {
	var loops [][]*vnode
	defer func() {
		sort.Slice(loops, func(a, b int) bool { return loops[a][0].index < loops[b][0].index })
		for _, comp := range loops {
			ids := make([]string, 0, 6)
			for i, c := range comp {
				if i == 5 {
					ids = append(ids, "…")
					break
				}
				ids = append(ids, c.node.ID)
			}
			v.add(comp[0].node.ID, "", "loop without a wait (%s): a loop must pass through a delay or wait_event", strings.Join(ids, ", "))
		}
	}()
	// Tarjan state by document index; index 0 means unvisited.
	n := len(v.j.Nodes)
	idx := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	var stack []*vnode
	counter := 1
	succ := func(vn *vnode) []*vnode {
		var out []*vnode
		for _, to := range vn.out {
			if t := v.nodes[to]; t != nil && !t.spec.Waits {
				out = append(out, t)
			}
		}
		return out
	}
	type frame struct {
		vn   *vnode
		next []*vnode
		i    int
	}
	for _, root := range all {
		if root.spec.Waits || idx[root.index] != 0 {
			continue
		}
		frames := []frame{{vn: root, next: succ(root)}}
		idx[root.index], low[root.index] = counter, counter
		counter++
		stack = append(stack, root)
		onStack[root.index] = true
		for len(frames) > 0 {
			f := &frames[len(frames)-1]
			if f.i < len(f.next) {
				w := f.next[f.i]
				f.i++
				if idx[w.index] == 0 {
					idx[w.index], low[w.index] = counter, counter
					counter++
					stack = append(stack, w)
					onStack[w.index] = true
					frames = append(frames, frame{vn: w, next: succ(w)})
				} else if onStack[w.index] {
					low[f.vn.index] = min(low[f.vn.index], idx[w.index])
				}
				continue
			}
			vn := f.vn
			frames = frames[:len(frames)-1]
			if len(frames) > 0 {
				parent := frames[len(frames)-1].vn
				low[parent.index] = min(low[parent.index], low[vn.index])
			}
			if low[vn.index] != idx[vn.index] {
				continue
			}
			var comp []*vnode
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w.index] = false
				comp = append(comp, w)
				if w == vn {
					break
				}
			}
			selfLoop := len(comp) == 1 && hasEdgeTo(comp[0], comp[0].node.ID)
			if len(comp) > 1 || selfLoop {
				sort.Slice(comp, func(a, b int) bool { return comp[a].index < comp[b].index })
				loops = append(loops, comp)
			}
		}
	}
}

func hasEdgeTo(vn *vnode, id string) bool {
	for _, to := range vn.out {
		if to == id {
			return true
		}
	}
	return false
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
