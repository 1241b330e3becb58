package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// assets are the page templates and the static files (style sheet, the
// auto-refresh script), built into the binary.
//
//go:embed templates static
var assets embed.FS

// pages holds one template set per page: the layout with the page's
// "content".
type pages struct{ byName map[string]*template.Template }

func parsePages() (*pages, error) {
	files, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(name).ParseFS(assets, "templates/layout.html", f)
		if err != nil {
			return nil, err
		}
		p.byName[name] = t
	}
	return p, nil
}

// layoutData is what every page gets; Page is the page's own view.
type layoutData struct {
	Title string
	// Nav is the page the main navigation marks as current.
	Nav  string
	User string
	// CSRF is the session's token, for every form of the page.
	CSRF  string
	Flash string
	// Zone names the location times are shown in.
	Zone string
	// Refresh, when set, loads the auto-refresh script.
	Refresh bool
	// Updated is when the page's data was read, in local time.
	Updated string
	Page    any
}

// navOf maps a page to the navigation entry it belongs to.
var navOf = map[string]string{
	"board": "board", "slice": "board", "cancel": "board",
	"book":     "book",
	"capacity": "capacity", "cores": "capacity",
}

// render writes a page. It renders into a buffer first, so that a
// template error never sends half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, sess *session, status int, page, title string, view any) {
	t := s.pages.byName[page]
	if t == nil {
		s.log.Error(fmt.Errorf("no template %q", page), "rendering")
		http.Error(w, "Internal error", http.StatusInternalServerError)
		return
	}
	now := s.now().In(s.loc)
	zone, _ := now.Zone()
	data := layoutData{
		Title:   title,
		Nav:     navOf[page],
		Zone:    fmt.Sprintf("%s (%s)", s.loc, zone),
		Refresh: page == "board" || page == "slice",
		Updated: now.Format("15:04:05"),
		Page:    view,
	}
	if sess != nil {
		u, _ := sess.identity()
		data.User, data.CSRF, data.Flash = u.Name, sess.csrf, sess.popFlash()
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		s.log.Error(err, "rendering", "page", page)
		http.Error(w, "Internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorView struct{ Message string }

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, sess *session, status int, title, msg string) {
	s.render(w, r, sess, status, "error", title, errorView{Message: msg})
}

// formField is one labelled input of a form, with its hint and error.
type formField struct {
	Name, Label, Hint string
	// Type is an input type (text, datetime-local), "textarea" or "select".
	Type     string
	Value    string
	Error    string
	Required bool
	Options  []option
	// Rows sizes a textarea.
	Rows int
}

type option struct {
	Value, Label string
	Selected     bool
}

// DescribedBy lists the ids of the hint and error, for aria-describedby.
func (f formField) DescribedBy() string {
	var ids []string
	if f.Error != "" {
		ids = append(ids, f.Name+"-error")
	}
	if f.Hint != "" {
		ids = append(ids, f.Name+"-hint")
	}
	return strings.Join(ids, " ")
}

// errorLink is one entry of a form's error summary, linking to the field.
type errorLink struct{ Field, Label, Message string }
