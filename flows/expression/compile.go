package expression

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

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
	runs sync.Pool // *evalState, reused between evaluations
}

// evalState is what one evaluation needs: a VM, the caller's env with
// the meter set, and the meter.
type evalState struct {
	vm    vm.VM
	env   Env
	meter Meter
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
		g.finish()
		if err != nil || g.err != nil {
			return nil, err
		}
		if e := estimate(src, tree.Node); e != nil {
			g.err = e
			return nil, nil
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
// as errors. What it builds is bounded by MaxEvalBytes: past that the
// error wraps ErrTooLarge.
func (p *Program) Eval(env *Env) (any, error) {
	return p.eval(env, nil)
}

// eval runs the program with the given meter, which a template shares
// between its placeholders; nil means a fresh budget of MaxEvalBytes.
func (p *Program) eval(env *Env, meter *Meter) (out any, err error) {
	st, _ := p.runs.Get().(*evalState)
	if st == nil {
		st = &evalState{}
	}
	if meter == nil {
		st.meter = newMeter(MaxEvalBytes)
		meter = &st.meter
	}
	if env != nil {
		st.env = *env
	} else {
		st.env = Env{}
	}
	st.env.Meter = meter
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("evaluating %q: %v", clip(p.src, 80), r)
			return // do not reuse a state that panicked
		}
		st.env = Env{} // keep no references to the caller's data
		p.runs.Put(st)
	}()
	out, err = st.vm.Run(p.prog, &st.env)
	if err != nil {
		return nil, runtimeError(err)
	}
	switch out.(type) {
	case bool, nil, int, float64, time.Time:
	default:
		// The result goes on to be rendered, stored or sent: it must not
		// be larger than what the evaluation could build.
		if _, err := textSize(out, meter.limit); err != nil {
			return nil, fmt.Errorf("evaluating %q: %w", clip(p.src, 80), err)
		}
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
		return &Error{Line: fe.Line, Column: fe.Column + 1, Message: fe.Message, cause: fe.Unwrap()}
	}
	return err
}

func boolMessage(msg string, kind Kind) string {
	if kind == Bool && strings.HasPrefix(msg, "expected bool, but got ") {
		return "must give true or false, but gives " + strings.TrimPrefix(msg, "expected bool, but got ")
	}
	return msg
}
