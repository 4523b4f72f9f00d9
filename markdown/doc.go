// Package markdown turns a rendered page into clean Markdown for AI agents: the
// page's main content (readability extraction, as Firefox's reader view does it) as
// Markdown with its title, headings, lists, tables, code and absolute links, and the
// facts of its JSON-LD (name, price, availability, author, dates…) as a short YAML
// front matter. Navigation, headers, footers, scripts and styles are left out.
//
// It is pure: HTML and a URL in, Markdown out; no I/O, no state, nothing from the rest
// of prerenderd. It must stay a function of its input, so a stored rendition can be
// made again from the stored HTML.
package markdown
