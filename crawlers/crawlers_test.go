package crawlers

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// realCrawlers are User-Agent strings as the vendors publish them (the source of each
// entry) or as they reach web servers, with the crawler each must be matched as.
var realCrawlers = []struct{ want, ua string }{
	{"Googlebot", "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.204 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
	{"Googlebot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; +http://www.google.com/bot.html) Chrome/131.0.6778.204 Safari/537.36"},
	{"Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
	{"Googlebot", "Googlebot-Image/1.0"},
	{"Google-InspectionTool", "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.204 Mobile Safari/537.36 (compatible; Google-InspectionTool/1.0;)"},
	{"Google-InspectionTool", "Mozilla/5.0 (compatible; Google-InspectionTool/1.0;)"},
	{"Storebot-Google", "Mozilla/5.0 (X11; Linux x86_64; Storebot-Google/1.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.88 Safari/537.36"},
	{"Storebot-Google", "Mozilla/5.0 (Linux; Android 8.0; Pixel 2 Build/OPD3.170816.012; Storebot-Google/1.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Mobile Safari/537.36"},
	{"GoogleOther", "GoogleOther"},
	{"Google-CloudVertexBot", "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.204 Mobile Safari/537.36 (compatible; Google-CloudVertexBot; +https://cloud.google.com/enterprise-search)"},
	{"AdsBot-Google", "AdsBot-Google (+http://www.google.com/adsbot.html)"},
	{"AdsBot-Google", "Mozilla/5.0 (iPhone; CPU iPhone OS 14_7_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.1.2 Mobile/15E148 Safari/604.1 (compatible; AdsBot-Google-Mobile; +http://www.google.com/mobile/adsbot.html)"},
	{"Mediapartners-Google", "Mediapartners-Google"},
	{"Bingbot", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"},
	{"Bingbot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36"},
	{"Bingbot", "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.1938.76 Mobile Safari/537.36 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"},
	{"MicrosoftPreview", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; MicrosoftPreview/2.0; +https://aka.ms/MicrosoftPreview) Chrome/116.0.1938.76 Safari/537.36"},
	{"Applebot", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)"},
	{"Applebot", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1 (Applebot/0.1; +http://www.apple.com/go/applebot)"},
	{"YandexBot", "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"},
	{"YandexBot", "Mozilla/5.0 (iPhone; CPU iPhone OS 15_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/15.4 Mobile/15E148 Safari/604.1 (compatible; YandexMobileBot/3.0; +http://yandex.com/bots)"},
	{"Baiduspider", "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"},
	{"Baiduspider", "Mozilla/5.0 (compatible; Baiduspider-render/2.0; +http://www.baidu.com/search/spider.html)"},
	{"DuckDuckBot", "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)"},
	{"DuckDuckBot", "Mozilla/5.0 (compatible; DuckDuckBot-Https/1.1; https://duckduckgo.com/duckduckbot)"},
	{"PetalBot", "Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)"},
	{"Yahoo! Slurp", "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)"},
	{"SeznamBot", "Mozilla/5.0 (compatible; SeznamBot/4.0; +https://o-seznam.cz/napoveda/vyhledavani/en/seznambot-crawler/)"},

	{"facebookexternalhit", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"},
	{"facebookexternalhit", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0"},
	{"Twitterbot", "Twitterbot/1.0"},
	{"LinkedInBot", "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)"},
	{"LinkedInBot", "LinkedInBot/1.0 (compatible; Mozilla/5.0; Jakarta Commons-HttpClient/4.3 +http://www.linkedin.com)"},
	{"Slackbot", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"},
	{"Slackbot", "Slackbot 1.0 (+https://api.slack.com/robots)"},
	{"Discordbot", "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)"},
	{"WhatsApp", "WhatsApp/2.23.20.0 A"},
	{"WhatsApp", "WhatsApp/2.19.92 i"},
	{"TelegramBot", "TelegramBot (like TwitterBot)"},
	{"Pinterestbot", "Mozilla/5.0 (compatible; Pinterestbot/1.0; +http://www.pinterest.com/bot.html)"},
	{"Pinterestbot", "Pinterest/0.2 (+http://www.pinterest.com/bot.html)"},
	{"redditbot", "Mozilla/5.0 (compatible; redditbot/1.0; +http://www.reddit.com/feedback)"},
	{"Embedly", "Mozilla/5.0 (compatible; Embedly/0.2; +http://support.embed.ly/)"},
	{"Iframely", "Iframely/1.3.1 (+https://iframely.com/docs/about)"},
	{"vkShare", "Mozilla/5.0 (compatible; vkShare; +http://vk.com/dev/Share)"},

	{"GPTBot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.1; +https://openai.com/gptbot)"},
	{"ClaudeBot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)"},
	{"CCBot", "CCBot/2.0 (https://commoncrawl.org/faq/)"},
	{"Bytespider", "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)"},
	{"meta-externalagent", "meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)"},
	{"FacebookBot", "Mozilla/5.0 (compatible; FacebookBot/1.0; +https://developers.facebook.com/docs/sharing/webmasters/facebookbot/)"},
	{"Amazonbot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Amazonbot/0.1; +https://developer.amazon.com/support/amazonbot) Chrome/119.0.6045.214 Safari/537.36"},
	{"AI2Bot", "Mozilla/5.0 (compatible) AI2Bot (+https://www.allenai.org/crawler)"},
	{"Diffbot", "Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.9.1.2) Gecko/20090729 Firefox/3.5.2 (.NET CLR 3.5.30729; Diffbot/0.1; +http://www.diffbot.com)"},
	{"Timpibot", "Timpibot/0.9 (+http://www.timpi.io)"},

	{"OAI-SearchBot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; OAI-SearchBot/1.0; +https://openai.com/searchbot"},
	{"OAI-SearchBot", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36; compatible; OAI-SearchBot/1.3; +https://openai.com/searchbot"},
	{"Claude-SearchBot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Claude-SearchBot/1.0; +https://www.anthropic.com)"},
	{"PerplexityBot", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; +https://perplexity.ai/perplexitybot)"},
	{"DuckAssistBot", "DuckAssistBot/1.2; (+http://duckduckgo.com/duckassistbot.html)"},
	{"YouBot", "YouBot (+http://www.you.com)"},

	{"ChatGPT-User", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; +https://openai.com/bot"},
	{"Claude-User", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Claude-User/1.0; +Claude-User@anthropic.com)"},
	{"Perplexity-User", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Perplexity-User/1.0; +https://perplexity.ai/perplexity-user)"},
	{"MistralAI-User", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; MistralAI-User/1.0; +https://docs.mistral.ai/robots)"},
	{"meta-externalfetcher", "meta-externalfetcher/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)"},

	{"AhrefsBot", "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"},
	{"AhrefsSiteAudit", "Mozilla/5.0 (compatible; AhrefsSiteAudit/6.1; +http://ahrefs.com/robot/site-audit)"},
	{"SemrushBot", "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)"},
	{"SiteAuditBot", "Mozilla/5.0 (compatible; SiteAuditBot/0.97; +http://www.semrush.com/bot.html)"},
	{"MJ12bot", "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)"},
	{"DotBot", "Mozilla/5.0 (compatible; DotBot/1.1; http://www.opensiteexplorer.org/dotbot, help@moz.com)"},
	{"rogerbot", "rogerbot/1.2 (http://moz.com/help/pro/what-is-rogerbot-, rogerbot-crawler+phaser-testing-crawler-01@moz.com)"},
	{"Screaming Frog SEO Spider", "Screaming Frog SEO Spider/21.0"},
	{"DataForSeoBot", "Mozilla/5.0 (compatible; DataForSeoBot/1.0; +https://dataforseo.com/dataforseo-bot)"},
	{"serpstatbot", "serpstatbot/1.0 (advanced backlink tracking bot; http://serpstatbot.com/; abuse@serpstatbot.com)"},
	{"BLEXBot", "Mozilla/5.0 (compatible; BLEXBot/1.0; +http://webmeup-crawler.com/)"},
	{"Barkrowler", "Mozilla/5.0 (compatible; Barkrowler/0.9; +https://babbar.tech/crawler)"},
	{"Chrome-Lighthouse", "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse"},
	{"W3C_Validator", "W3C_Validator/1.3 http://validator.w3.org/services"},
}

// browsers are real browsers' User-Agent strings, in-app browsers of the networks whose
// crawlers are listed, and prerenderd's own Chromium: none is a crawler.
var browsers = []struct{ name, ua string }{
	{"Chrome on Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
	{"Chrome on macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
	{"Chrome on Linux", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"},
	{"Chrome on Android", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"},
	{"Chrome on iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1"},
	{"Firefox on Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"},
	{"Firefox on Linux", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"},
	{"Firefox on Android", "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0"},
	{"Firefox on iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15"},
	{"Safari on macOS", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"},
	{"Safari on iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"},
	{"Safari on iPad", "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"},
	{"Edge on Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.70"},
	{"Edge on Android", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.2903.87"},
	{"Samsung Internet", "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36"},
	{"Opera", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0"},
	{"Yandex Browser", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 YaBrowser/24.10.0.0 Safari/537.36"},
	{"UC Browser", "Mozilla/5.0 (Linux; U; Android 10; en-US; RMX2020 Build/QP1A.190711.020) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/78.0.3904.108 UCBrowser/13.4.0.1306 Mobile Safari/537.36"},
	{"the Google app on iOS", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) GSA/343.0.695551749 Mobile/15E148 Safari/604.1"},
	{"the Facebook app's browser", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/470.0.0.36.108;FBBV/640144358;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.5;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;FBRV/641758963]"},
	{"the Instagram app's browser", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 337.0.3.23.54 (iPhone14,5; iOS 17_5; en_US; en; scale=3.00; 1170x2532; 619461904)"},
	{"the LinkedIn app's browser", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [LinkedInApp]/9.29.8830"},
	{"the Pinterest app's browser", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [Pinterest/iOS]"},
	{"the Slack desktop app", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Slack/4.41.97 Chrome/130.0.6723.152 Electron/33.2.0 Safari/537.36 Sonic Slack_SSB/4.41.97"},
	{"the Discord desktop app", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) discord/1.0.9171 Chrome/128.0.6613.186 Electron/32.2.7 Safari/537.36"},
	{"the Yandex app", "Mozilla/5.0 (Linux; Android 12; M2101K6G) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.230 YaApp_Android/24.11 YaSearchBrowser/24.11 BroPP/1.0 SA/3 Mobile Safari/537.36"},
	{"prerenderd's own Chromium", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36 prerenderd"},
	{"an empty User-Agent", ""},
}

func TestRealCrawlerUserAgentsAreMatchedAsTheirCrawler(t *testing.T) {
	if len(realCrawlers) < 40 {
		t.Fatalf("the table holds %d User-Agents; keep at least 40", len(realCrawlers))
	}
	for _, tc := range realCrawlers {
		t.Run(tc.want+" "+tc.ua, func(t *testing.T) {
			c, ok := Match(tc.ua)
			if !ok {
				t.Fatalf("Match(%q) found no crawler, want %s", tc.ua, tc.want)
			}
			if c.Name != tc.want {
				t.Fatalf("Match(%q) = %s, want %s", tc.ua, c.Name, tc.want)
			}
			if !IsCrawler(tc.ua) {
				t.Fatalf("IsCrawler(%q) = false", tc.ua)
			}
		})
	}
}

func TestBrowsersAreNotCrawlers(t *testing.T) {
	for _, tc := range browsers {
		t.Run(tc.name, func(t *testing.T) {
			if c, ok := Match(tc.ua); ok {
				t.Fatalf("Match(%q) = %s (pattern %q), want no crawler", tc.ua, c.Name, c.Pattern)
			}
		})
	}
}

func TestEveryMatchedEntryHasARealUserAgentInTheTable(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range realCrawlers {
		seen[tc.want] = true
	}
	for _, c := range All() {
		if !c.TokenOnly && !seen[c.Name] {
			t.Errorf("%s has no real User-Agent in realCrawlers: add one from %s", c.Name, c.Source)
		}
	}
}

func TestMatchIgnoresCase(t *testing.T) {
	for _, ua := range []string{"GPTBOT/1.1", "gptbot/1.1", "gPtBoT"} {
		if c, ok := Match(ua); !ok || c.Name != "GPTBot" {
			t.Errorf("Match(%q) = %v, %v; want GPTBot", ua, c.Name, ok)
		}
	}
}

func TestTokenOnlyEntriesAreListedButNeverMatched(t *testing.T) {
	var n int
	for _, c := range All() {
		if !c.TokenOnly {
			continue
		}
		n++
		if got, ok := Match("Mozilla/5.0 (compatible; " + c.Pattern + "/1.0)"); ok && got.Name == c.Name {
			t.Errorf("token-only %s was matched", c.Name)
		}
		if strings.Contains(strings.ToLower(Regexp()), strings.ToLower(c.Pattern)+"|") {
			t.Errorf("token-only %s is in the generated regexp", c.Name)
		}
	}
	if n == 0 {
		t.Fatal("expected Google-Extended and Applebot-Extended as token-only entries")
	}
}

func TestNoMatchedPatternContainsAnother(t *testing.T) {
	// A pattern inside another would make the shorter crawler's name win on the
	// longer one's User-Agent whenever it starts further left.
	for _, a := range matched {
		for _, b := range matched {
			if a.Name != b.Name && strings.Contains(strings.ToLower(a.Pattern), strings.ToLower(b.Pattern)) {
				t.Errorf("the pattern of %s (%q) contains the pattern of %s (%q)", a.Name, a.Pattern, b.Name, b.Pattern)
			}
		}
	}
}

func TestEveryEntryHasASourceAndAKnownGroup(t *testing.T) {
	groups := map[Group]int{}
	for _, c := range All() {
		if c.Source == "" {
			t.Errorf("%s has no source", c.Name)
		}
		groups[c.Group]++
	}
	for _, g := range Groups() {
		if groups[g] == 0 {
			t.Errorf("group %s has no crawler", g)
		}
	}
	if len(groups) != len(Groups()) {
		t.Errorf("entries use groups %v, the fixed set is %v", groups, Groups())
	}
}

func TestTheIssueAgentsAreCovered(t *testing.T) {
	for _, name := range []string{"GPTBot", "OAI-SearchBot", "ChatGPT-User", "ClaudeBot", "Claude-User",
		"Claude-SearchBot", "PerplexityBot", "Perplexity-User", "Google-Extended", "Amazonbot", "Bytespider",
		"CCBot", "meta-externalagent", "Applebot-Extended", "DuckAssistBot", "MistralAI-User", "YouBot",
		"Googlebot", "Google-InspectionTool", "Storebot-Google", "Bingbot", "Applebot", "YandexBot",
		"Baiduspider", "DuckDuckBot", "Slackbot", "Twitterbot", "facebookexternalhit", "LinkedInBot",
		"Discordbot", "WhatsApp", "TelegramBot", "Pinterestbot", "redditbot", "Embedly",
		"Google-CloudVertexBot", "PetalBot", "Timpibot", "AhrefsBot", "SemrushBot"} {
		found := false
		for _, c := range All() {
			found = found || c.Name == name
		}
		if !found {
			t.Errorf("%s is not in the list", name)
		}
	}
}

func TestParseRefusesABrokenList(t *testing.T) {
	entry := func(fields string) string {
		return `{"updated": "2026-12-01", "crawlers": [` + fields + `]}`
	}
	good := `{"name": "GPTBot", "pattern": "GPTBot", "group": "ai_training", "vendor": "OpenAI", "source": "https://platform.openai.com/docs/bots"}`
	if _, err := Parse([]byte(entry(good))); err != nil {
		t.Fatalf("a good list is refused: %v", err)
	}
	tests := []struct{ name, doc, want string }{
		{"not JSON", `{`, "cannot parse"},
		{"an unknown field", `{"updated": "x", "crawlers": [], "extra": 1}`, "unknown field"},
		{"no date", `{"crawlers": [` + good + `]}`, "no updated date"},
		{"no entry", `{"updated": "2026-12-01", "crawlers": []}`, "empty"},
		{"no name", entry(`{"name": "", "pattern": "GPTBot", "group": "ai_training", "vendor": "OpenAI", "source": "https://x.example/"}`), "name is empty"},
		{"a short pattern", entry(`{"name": "A", "pattern": "ab", "group": "ai_training", "vendor": "OpenAI", "source": "https://x.example/"}`), "shorter than 3"},
		{"an unknown group", entry(`{"name": "A", "pattern": "abc", "group": "robots", "vendor": "OpenAI", "source": "https://x.example/"}`), "group \"robots\""},
		{"no vendor", entry(`{"name": "A", "pattern": "abc", "group": "seo", "vendor": "", "source": "https://x.example/"}`), "vendor is empty"},
		{"a quote in a pattern", entry(`{"name": "A", "pattern": "ab\"c", "group": "seo", "vendor": "V", "source": "https://x.example/"}`), "printable ASCII"},
		{"a non-ASCII pattern", entry(`{"name": "A", "pattern": "abç", "group": "seo", "vendor": "V", "source": "https://x.example/"}`), "printable ASCII"},
		{"a padded pattern", entry(`{"name": "A", "pattern": " abc", "group": "seo", "vendor": "V", "source": "https://x.example/"}`), "starts or ends with a space"},
		{"a source that is no URL", entry(`{"name": "A", "pattern": "abc", "group": "seo", "vendor": "V", "source": "the vendor's site"}`), "not an http(s) or mailto URL"},
		{"a name twice", entry(good + "," + strings.Replace(good, `"pattern": "GPTBot"`, `"pattern": "GPTBot2"`, 1)), "listed twice"},
		{"a pattern twice", entry(good + "," + strings.Replace(good, `"name": "GPTBot"`, `"name": "Other"`, 1)), "already \"GPTBot\"'s"},
	}
	for _, tc := range tests {
		t.Run("a list with "+tc.name+" is refused", func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestTheRegexpMatchesWhatMatchMatches(t *testing.T) {
	re := regexp.MustCompile(Regexp())
	for _, tc := range realCrawlers {
		if !re.MatchString(tc.ua) {
			t.Errorf("the regexp misses %q", tc.ua)
		}
	}
	for _, tc := range browsers {
		if tc.name == "prerenderd's own Chromium" {
			continue // the generated configs guard it on their own line
		}
		if re.MatchString(tc.ua) {
			t.Errorf("the regexp matches %s", tc.name)
		}
	}
}

func TestWriteGivesEachFormat(t *testing.T) {
	for _, f := range Formats {
		t.Run(f, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, f); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			switch f {
			case "json":
				var d Document
				if err := json.Unmarshal(b.Bytes(), &d); err != nil {
					t.Fatal(err)
				}
				if len(d.Crawlers) != len(All()) || len(d.Groups) != len(Groups()) || d.Updated != Updated() {
					t.Fatalf("the JSON holds %d crawlers and %d groups of %q", len(d.Crawlers), len(d.Groups), d.Updated)
				}
			case "nginx":
				for _, want := range []string{"map $http_user_agent $prerender_crawler {", `"~*prerender" "";`, `"~*gptbot" ai_training;`, `"~*yahoo! slurp" search;`, `"~*yandex\.com/bots" search;`} {
					if !strings.Contains(out, want) {
						t.Errorf("the nginx map has no %s:\n%s", want, out)
					}
				}
				if strings.Index(out, `"~*prerender"`) > strings.Index(out, `"~*googlebot"`) {
					t.Error("the prerender guard must come before every crawler: nginx takes the first regex that matches")
				}
				if strings.Contains(out, "google-extended") {
					t.Error("a token-only entry is in the nginx map")
				}
			case "caddy":
				if !strings.Contains(out, "header_regexp User-Agent \""+Regexp()+"\"\n") {
					t.Errorf("the Caddy matcher is %q", out)
				}
			case "regex":
				if out != Regexp()+"\n" {
					t.Errorf("regex printed %q", out)
				}
			case "text":
				if !strings.Contains(out, "Google-Extended (robots.txt token only)") || !strings.Contains(out, "https://platform.openai.com/docs/bots") {
					t.Errorf("the table lacks entries:\n%s", out)
				}
			}
		})
	}
	if err := Write(&bytes.Buffer{}, "yaml"); err == nil {
		t.Error("an unknown format was accepted")
	}
}

func TestMainExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"no flag prints the table", nil, 0, "GROUP"},
		{"-format regex prints the regexp", []string{"-format", "regex"}, 0, "(?i)(?:"},
		{"an unknown format is bad usage", []string{"-format", "yaml"}, 2, ""},
		{"an argument is bad usage", []string{"extra"}, 2, ""},
		{"an unknown flag is bad usage", []string{"-x"}, 2, ""},
		{"-h prints the usage", []string{"-h"}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := Main(tc.args, &out, &errOut); code != tc.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.code, errOut.String())
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Fatalf("stdout %q lacks %q", out.String(), tc.out)
			}
			if tc.code == 2 && errOut.Len() == 0 {
				t.Fatal("bad usage printed nothing on stderr")
			}
		})
	}
}

// naiveFind is the definition Match must agree with: the leftmost match, the longest
// at that position.
func naiveFind(ua string) int {
	l := strings.ToLower(ua)
	best, bestStart := -1, 0
	for i, c := range matched {
		p := strings.ToLower(c.Pattern)
		at := strings.Index(l, p)
		if at < 0 {
			continue
		}
		if best < 0 || at < bestStart || (at == bestStart && len(p) > len(matched[best].Pattern)) {
			best, bestStart = i, at
		}
	}
	return best
}

func TestMatchAgreesWithTheNaiveDefinition(t *testing.T) {
	for _, tc := range realCrawlers {
		if got, want := auto.find(tc.ua), naiveFind(tc.ua); got != want {
			t.Errorf("find(%q) = %d, naive %d", tc.ua, got, want)
		}
	}
	// Overlaps and prefixes the automaton must get right.
	for _, ua := range []string{"twitterbot telegrambot", "telegrambot twitterbot", "gptbotclaudebot", "ggooglebot", "googlebogooglebot", "CLAUDE-USERclaude-searchbot"} {
		if got, want := auto.find(ua), naiveFind(ua); got != want {
			t.Errorf("find(%q) = %d, naive %d", ua, got, want)
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, tc := range realCrawlers {
		f.Add(tc.ua)
	}
	for _, tc := range browsers {
		f.Add(tc.ua)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		if got, want := auto.find(ua), naiveFind(ua); got != want {
			t.Fatalf("find(%q) = %d, naive %d", ua, got, want)
		}
	})
}

var sink bool

// BenchmarkMatch is Match on a browser (the common case: the whole string is read) and
// on a crawler; the regexp and strings.Contains benchmarks beside it are the
// baselines for its ratio.
func BenchmarkMatch(b *testing.B) {
	for _, tc := range []struct{ name, ua string }{
		{"browser", browsers[0].ua},
		{"crawler", realCrawlers[0].ua},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, sink = Match(tc.ua)
			}
		})
	}
}

func BenchmarkMatchRegexp(b *testing.B) {
	re := regexp.MustCompile(Regexp())
	for _, tc := range []struct{ name, ua string }{
		{"browser", browsers[0].ua},
		{"crawler", realCrawlers[0].ua},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				sink = re.MatchString(tc.ua)
			}
		})
	}
}

func BenchmarkMatchContains(b *testing.B) {
	lower := make([]string, len(matched))
	for i, c := range matched {
		lower[i] = strings.ToLower(c.Pattern)
	}
	for _, tc := range []struct{ name, ua string }{
		{"browser", browsers[0].ua},
		{"crawler", realCrawlers[0].ua},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				l := strings.ToLower(tc.ua)
				sink = false
				for _, p := range lower {
					if strings.Contains(l, p) {
						sink = true
						break
					}
				}
			}
		})
	}
}
