package markdown

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	readability "codeberg.org/readeck/go-readability/v2"
	"github.com/JohannesKaufmann/html-to-markdown/v2/converter"
	"github.com/JohannesKaufmann/html-to-markdown/v2/plugin/base"
	"github.com/JohannesKaufmann/html-to-markdown/v2/plugin/commonmark"
	"github.com/JohannesKaufmann/html-to-markdown/v2/plugin/table"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// One converter serves every call: it holds no state between conversions.
var conv = converter.NewConverter(converter.WithPlugins(
	base.NewBasePlugin(),
	commonmark.NewCommonmarkPlugin(),
	table.NewTablePlugin(table.WithSkipEmptyRows(true), table.WithHeaderPromotion(true)),
))

// Convert returns the Markdown of the rendered page doc, whose address is pageURL
// (relative links are resolved against it).
func Convert(doc []byte, pageURL *url.URL) ([]byte, error) {
	if pageURL == nil || !pageURL.IsAbs() {
		return nil, fmt.Errorf("cannot convert a page without its absolute URL (got %v)", pageURL)
	}
	root, err := html.Parse(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("cannot parse the HTML of %s: %w", pageURL, err)
	}
	// JSON-LD first: readability drops every script.
	facts := jsonLDFacts(root)
	pageTitle := documentTitle(root)
	heading := firstH1(root)
	stripChrome(root, false)

	parser := readability.NewParser()
	// Classes carry the language of code blocks (class="language-go").
	parser.KeepClasses = true
	article, err := parser.ParseAndMutate(root, pageURL)
	if err != nil {
		return nil, fmt.Errorf("cannot extract the content of %s: %w", pageURL, err)
	}
	title := pageTitle
	if title == "" {
		title = strings.TrimSpace(article.Title())
	}
	// The heading is the page's own first <h1> ("Wool throw"), not its <title>
	// ("Wool throw | prerenderd demo shop"), when it has one.
	if heading == "" {
		heading = strings.TrimSpace(article.Title())
	}
	var body []byte
	if article.Node != nil {
		body, err = conv.ConvertNode(article.Node, converter.WithDomain(pageURL.Scheme+"://"+pageURL.Host))
		if err != nil {
			return nil, fmt.Errorf("cannot convert the content of %s to Markdown: %w", pageURL, err)
		}
	}
	body = bytes.TrimSpace(body)

	var out bytes.Buffer
	out.WriteString("---\n")
	writeField(&out, "title", title)
	writeField(&out, "url", pageURL.String())
	for _, f := range facts {
		writeField(&out, f.key, f.value)
	}
	out.WriteString("---\n\n")
	// Readability drops a heading that repeats the title; it comes back as the one
	// first-level heading.
	if heading != "" && !startsWithHeading(body, heading) {
		out.WriteString("# " + heading + "\n\n")
	}
	out.Write(body)
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func startsWithHeading(md []byte, title string) bool {
	first, _, _ := bytes.Cut(md, []byte("\n"))
	return strings.EqualFold(strings.TrimSpace(strings.TrimLeft(string(first), "#")), title) && bytes.HasPrefix(first, []byte("#"))
}

func firstH1(n *html.Node) string {
	if n.Type == html.ElementNode && n.DataAtom == atom.H1 {
		return strings.Join(strings.Fields(textOf(n)), " ")
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if t := firstH1(c); t != "" {
			return t
		}
	}
	return ""
}

func documentTitle(n *html.Node) string {
	if n.Type == html.ElementNode && n.DataAtom == atom.Title {
		return strings.TrimSpace(textOf(n))
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if t := documentTitle(c); t != "" {
			return t
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// plainYAML is a value YAML reads back as the same string without quotes.
var plainYAML = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9 ._/()+,-]*$`)

// writeField writes one front matter line; a value that YAML could read as something
// else (a number, a boolean, a key, a comment) is double-quoted, JSON style.
func writeField(b *bytes.Buffer, key, value string) {
	value = strings.Join(strings.Fields(value), " ")
	if value == "" {
		return
	}
	b.WriteString(key + ": ")
	switch strings.ToLower(value) {
	case "true", "false", "yes", "no", "on", "off", "null", "y", "n":
		b.WriteString(quote(value))
	default:
		if plainYAML.MatchString(value) {
			b.WriteString(value)
		} else {
			b.WriteString(quote(value))
		}
	}
	b.WriteByte('\n')
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
