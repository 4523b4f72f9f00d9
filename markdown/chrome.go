package markdown

import (
	"regexp"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// chromeClass matches the class or id of blocks that are a site's chrome around the
// content: cookie banners, newsletter and share boxes, related links, comments.
var chromeClass = regexp.MustCompile(`(?i)(^|[\s_-])(cookie|consent|newsletter|subscribe|signup|share|sharing|social|related|comments?|promo|advert|ads|breadcrumbs?|sidebar|skip-link)([\s_-]|$)`)

// chromeRoles are ARIA landmarks that are never the content.
var chromeRoles = map[string]bool{"navigation": true, "banner": true, "contentinfo": true, "complementary": true, "dialog": true, "alertdialog": true, "search": true}

// stripChrome removes, before readability scores the page, what is never the main
// content: navigation, forms, asides, the page's own header and footer (an article's
// header and footer stay), ARIA landmarks of chrome, hidden elements, blocks whose
// class or id names them as chrome, inline SVG and data: images. Readability finds the content on its own; without
// this it keeps the chrome that sits inside <main> (a newsletter box, a share bar).
func stripChrome(n *html.Node, inContent bool) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		if c.Type == html.ElementNode {
			if isChrome(c, inContent) {
				n.RemoveChild(c)
			} else {
				stripChrome(c, inContent || c.DataAtom == atom.Article)
			}
		}
		c = next
	}
}

func isChrome(n *html.Node, inArticle bool) bool {
	switch n.DataAtom {
	case atom.Nav, atom.Aside, atom.Form, atom.Dialog, atom.Button, atom.Noscript, atom.Template, atom.Iframe:
		return true
	case atom.Header, atom.Footer:
		if !inArticle {
			return true
		}
	case atom.Body, atom.Html, atom.Main, atom.Article, atom.Head:
		return false
	case atom.Script:
		return !strings.EqualFold(strings.TrimSpace(attr(n, "type")), "application/ld+json")
	case atom.Svg:
		return true // icons; a drawing has no Markdown form
	case atom.Img:
		// An image inlined as data: would put its bytes in the Markdown.
		return strings.HasPrefix(strings.TrimSpace(attr(n, "src")), "data:")
	}
	if chromeRoles[strings.ToLower(attr(n, "role"))] || attr(n, "aria-hidden") == "true" || hasAttr(n, "hidden") {
		return true
	}
	return chromeClass.MatchString(attr(n, "class")) || chromeClass.MatchString(attr(n, "id"))
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}
