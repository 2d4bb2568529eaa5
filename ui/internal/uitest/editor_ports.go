package uitest

import "regexp"

var EditorDataRE = regexp.MustCompile(`(?s)<script id="editor-data" type="application/json">(.*?)</script>`)
