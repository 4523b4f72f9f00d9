package markdown

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

type fact struct{ key, value string }

// jsonLDFacts reads the JSON-LD blocks of the page and returns the facts of its main
// entity (the first Product, else the first article, else the first typed entity), in
// a fixed order. A block that does not parse is skipped: a page's broken markup is
// not the page's Markdown's problem.
func jsonLDFacts(root *html.Node) []fact {
	var entities []map[string]any
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.DataAtom == atom.Script && strings.EqualFold(strings.TrimSpace(attr(n, "type")), "application/ld+json") {
			var v any
			if err := json.Unmarshal([]byte(textOf(n)), &v); err == nil {
				entities = collect(entities, v)
			}
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	main := pick(entities)
	if main == nil {
		return nil
	}
	typ := types(main)[0]
	facts := []fact{{"type", typ}}
	add := func(key string, v any) {
		if s := scalar(v); s != "" {
			facts = append(facts, fact{key, s})
		}
	}
	add("name", first(main, "name", "headline"))
	add("brand", first(main, "brand"))
	add("sku", first(main, "sku", "gtin13", "gtin", "mpn"))
	if offer := firstOffer(main["offers"]); offer != nil {
		add("price", first(offer, "price", "lowPrice"))
		add("currency", first(offer, "priceCurrency"))
		if a := scalar(offer["availability"]); a != "" {
			// "https://schema.org/InStock" → "InStock".
			add("availability", a[strings.LastIndexByte(a, '/')+1:])
		}
	}
	if r, ok := main["aggregateRating"].(map[string]any); ok {
		add("rating", r["ratingValue"])
		add("reviews", first(r, "reviewCount", "ratingCount"))
	}
	add("author", first(main, "author", "creator"))
	add("published", first(main, "datePublished", "startDate"))
	add("modified", first(main, "dateModified"))
	return facts
}

// collect flattens arrays and @graph into a list of typed entities.
func collect(into []map[string]any, v any) []map[string]any {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			into = collect(into, e)
		}
	case map[string]any:
		if g, ok := v["@graph"]; ok {
			into = collect(into, g)
		}
		if len(types(v)) > 0 {
			into = append(into, v)
		}
	}
	return into
}

func pick(entities []map[string]any) map[string]any {
	for _, kinds := range [][]string{
		{"Product", "ProductGroup"},
		{"Article", "NewsArticle", "BlogPosting", "TechArticle", "Recipe", "Event", "Course", "JobPosting"},
	} {
		for _, e := range entities {
			for _, t := range types(e) {
				for _, k := range kinds {
					if t == k {
						return e
					}
				}
			}
		}
	}
	for _, e := range entities {
		if t := types(e)[0]; t != "WebSite" && t != "WebPage" && t != "BreadcrumbList" && t != "Organization" {
			return e
		}
	}
	return nil
}

func types(e map[string]any) []string {
	var out []string
	switch t := e["@type"].(type) {
	case string:
		out = append(out, t)
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func firstOffer(v any) map[string]any {
	switch v := v.(type) {
	case map[string]any:
		if inner, ok := v["offers"]; ok && v["price"] == nil && v["lowPrice"] == nil {
			return firstOffer(inner)
		}
		return v
	case []any:
		for _, o := range v {
			if m := firstOffer(o); m != nil {
				return m
			}
		}
	}
	return nil
}

func first(m map[string]any, keys ...string) any {
	for _, k := range keys {
		if v, ok := m[k]; ok && v != nil {
			return v
		}
	}
	return nil
}

// scalar is a short text for v: a string or number as it is, an object by its name,
// a list by its first element.
func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return fmt.Sprint(v)
	case json.Number:
		return v.String()
	case map[string]any:
		return scalar(first(v, "name", "@id"))
	case []any:
		var names []string
		for _, e := range v {
			if s := scalar(e); s != "" {
				names = append(names, s)
			}
		}
		return strings.Join(names, ", ")
	}
	return ""
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
