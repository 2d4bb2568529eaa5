package expression

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/vm"
)

// Kind is what an expression must produce.
type Kind int

// Kinds of expression.
const (
	Any  Kind = iota // any value
	Bool             // a boolean (conditions)
)

func (k Kind) String() string {
	if k == Bool {
		return "boolean"
	}
	return "any"
}

// Program is a compiled expression. It is safe for concurrent use.
type Program struct {
	src  string
	kind Kind
	prog *vm.Program
	vms  sync.Pool // *vm.VM, reused between evaluations
}

// Source returns the expression's text.
func (p *Program) Source() string { return p.src }

// Kind returns what the program produces.
func (p *Program) Kind() Kind { return p.kind }

// baseOptions are the expr options shared by every compilation.
func baseOptions(kind Kind) []expr.Option {
	opts := []expr.Option{
		expr.Env(Env{}),
		expr.MaxNodes(MaxNodes),
	}
	opts = append(opts, helperOptions()...)
	if kind == Bool {
		opts = append(opts, expr.AsBool())
	}
	return opts
}

// configs pools prepared expr configurations, one pool per Kind:
// building one (builtins table, env reflection) costs more than
// checking a typical expression. A config is used by one compilation
// at a time; only its type caches change between uses.
var configs [2]sync.Pool

func getConfig(kind Kind, g *guard) *conf.Config {
	cfg, _ := configs[kind].Get().(*conf.Config)
	if cfg == nil {
		cfg = conf.CreateNew()
		for _, op := range baseOptions(kind) {
			op(cfg)
		}
		for name := range cfg.Disabled {
			delete(cfg.Builtins, name)
		}
		cfg.Check()
	}
	cfg.Visitors = []ast.Visitor{g}
	return cfg
}

func putConfig(kind Kind, cfg *conf.Config) {
	cfg.Visitors = nil
	configs[kind].Put(cfg)
}

// Compile checks and compiles src. Errors are *Error values with the
// line and column of the problem.
func Compile(src string, kind Kind) (*Program, error) {
	prog, err := build(src, kind, true)
	if err != nil {
		return nil, err
	}
	return &Program{src: src, kind: kind, prog: prog}, nil
}

// Check validates src like Compile without generating bytecode; it is
// what validation uses.
func Check(src string, kind Kind) error {
	_, err := build(src, kind, false)
	return err
}

func build(src string, kind Kind, generate bool) (*vm.Program, error) {
	if kind != Bool {
		kind = Any
	}
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Message: "empty expression"}
	}
	if err := precheck(src); err != nil {
		return nil, err
	}
	g := &guard{src: src}
	cfg := getConfig(kind, g)
	panicked := false
	prog, err := func() (prog *vm.Program, err error) {
		defer func() {
			if r := recover(); r != nil {
				panicked = true
				prog, err = nil, fmt.Errorf("internal error: %v", r)
			}
		}()
		tree, err := checker.ParseCheck(src, cfg)
		if err != nil || g.err != nil {
			return nil, err
		}
		// The optimizer folds constants, and can fail (1 % 0): Check runs
		// it too, so that what validates also compiles.
		if cfg.Optimize {
			if err := optimizer.Optimize(&tree.Node, cfg); err != nil {
				return nil, err
			}
		}
		if !generate {
			return nil, nil
		}
		return compiler.Compile(tree, cfg)
	}()
	if !panicked {
		putConfig(kind, cfg) // a config that saw a panic is dropped
	}
	if g.err != nil {
		return nil, g.err
	}
	if err != nil {
		return nil, convertError(src, err, kind)
	}
	return prog, nil
}

func convertError(src string, err error, kind Kind) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		msg := fe.Message
		line, col := runePosition(src, fe.From)
		if fe.Line > 0 {
			line, col = fe.Line, fe.Column+1
		}
		return &Error{Line: line, Column: col, Message: boolMessage(msg, kind)}
	}
	return &Error{Message: boolMessage(err.Error(), kind)}
}

// Eval runs the program against env. It never panics: run-time faults
// (a missing field, a type mismatch, an error from a helper) come back
// as errors.
func (p *Program) Eval(env *Env) (out any, err error) {
	if env == nil {
		env = &Env{}
	}
	m, _ := p.vms.Get().(*vm.VM)
	if m == nil {
		m = &vm.VM{}
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("evaluating %q: %v", clip(p.src, 80), r)
			return // do not reuse a VM that panicked
		}
		p.vms.Put(m)
	}()
	out, err = m.Run(p.prog, env)
	if err != nil {
		return nil, runtimeError(err)
	}
	return out, nil
}

// EvalBool runs a program and requires a boolean result.
func (p *Program) EvalBool(env *Env) (bool, error) {
	v, err := p.Eval(env)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("expression %q gave %T, want true or false", clip(p.src, 80), v)
	}
	return b, nil
}

func runtimeError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return &Error{Line: fe.Line, Column: fe.Column + 1, Message: fe.Message}
	}
	return err
}

func boolMessage(msg string, kind Kind) string {
	if kind == Bool && strings.HasPrefix(msg, "expected bool, but got ") {
		return "must give true or false, but gives " + strings.TrimPrefix(msg, "expected bool, but got ")
	}
	return msg
}
