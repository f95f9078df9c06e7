package archive

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoMutablePackageState: no package-level variable of archive is
// assigned anywhere, tests included. A variable tests swap (a hook, a
// limit) is state every concurrent Open or Write shares: a test seam goes
// through an unexported option instead (WriteOptions.medium,
// ImportOptions.watch).
func TestNoMutablePackageState(t *testing.T) {
	fset := token.NewFileSet()
	names, _ := filepath.Glob("*.go")
	files := map[string]*ast.File{}
	vars := map[string]string{} // name → where declared
	for _, n := range names {
		f, err := parser.ParseFile(fset, n, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files[n] = f
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
				for _, s := range g.Specs {
					for _, id := range s.(*ast.ValueSpec).Names {
						if id.Name != "_" {
							vars[id.Name] = fset.Position(id.Pos()).String()
						}
					}
				}
			}
		}
	}
	if len(vars) == 0 {
		t.Fatal("found no package-level variables at all: is the test looking at the package's files?")
	}
	for _, f := range files {
		if f.Name.Name != "archive" {
			continue // an external test cannot reach unexported state
		}
		ast.Inspect(f, func(node ast.Node) bool {
			var lhs []ast.Expr
			switch s := node.(type) {
			case *ast.AssignStmt:
				if s.Tok != token.DEFINE {
					lhs = s.Lhs
				}
			case *ast.IncDecStmt:
				lhs = []ast.Expr{s.X}
			}
			for _, e := range lhs {
				if id, ok := e.(*ast.Ident); ok && vars[id.Name] != "" {
					t.Errorf("%s assigns package variable %s (declared at %s)", fset.Position(id.Pos()), id.Name, vars[id.Name])
				}
			}
			return true
		})
	}
}
