package flows

import (
	"github.com/waymarkhq/waymark/flows/expression"
	"github.com/waymarkhq/waymark/nodes"
)

// How the field types' codes (nodes.TypeInfo.Code) compile: expressions
// of a result kind, templates with an escaping.
var (
	exprKinds = map[nodes.Code]expression.Kind{nodes.CodeExpression: expression.Any, nodes.CodeCondition: expression.Bool}
	escapings = map[nodes.Code]expression.Escaping{
		nodes.CodeTemplate: expression.Text, nodes.CodeHTML: expression.HTML, nodes.CodeJSON: expression.JSONText,
	}
)

// TemplateEscaping returns how the placeholders of a template field type
// are escaped (plain text for a type that is not a template).
func TemplateEscaping(t nodes.FieldType) expression.Escaping {
	info, _ := t.Info()
	if esc, ok := escapings[info.Code]; ok {
		return esc
	}
	return expression.Text
}
