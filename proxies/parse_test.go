package proxies_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/proxies"
)

const secret = "Sup3r-s3cret"

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // URL.String()
		user string
		pass string
	}{
		{"10.0.0.1:3128", "http://10.0.0.1:3128", "", ""},
		{" proxy.example:8080 ", "http://proxy.example:8080", "", ""},
		{"[::1]:3128", "http://[::1]:3128", "", ""},
		{"10.0.0.1:3128:alice:" + secret, "", "alice", secret},
		{"10.0.0.1:3128:alice:pa:ss", "", "alice", "pa:ss"},
		{"10.0.0.1:3128:alice:p@ss/w#rd,", "", "alice", "p@ss/w#rd,"},
		{"10.0.0.1:3128:alice:", "", "alice", ""},
		{"[2001:db8::1]:3128:alice:" + secret, "", "alice", secret},
		{"http://10.0.0.1:3128", "http://10.0.0.1:3128", "", ""},
		{"http://10.0.0.1:3128/", "http://10.0.0.1:3128", "", ""},
		{"HTTP://Proxy.Example:3128", "http://Proxy.Example:3128", "", ""},
		{"https://proxy.example:443", "https://proxy.example:443", "", ""},
		{"socks5://127.0.0.1:1080", "socks5://127.0.0.1:1080", "", ""},
		{"socks5h://127.0.0.1:1080", "socks5h://127.0.0.1:1080", "", ""},
		{"http://alice:" + secret + "@10.0.0.1:3128", "", "alice", secret},
		{"socks5://alice:p%40ss%3Aw%2Frd@10.0.0.1:1080", "", "alice", "p@ss:w/rd"},
		{"http://alice@10.0.0.1:3128", "http://alice@10.0.0.1:3128", "alice", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			u, err := proxies.Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if tt.want != "" && u.String() != tt.want {
				t.Errorf("Parse(%q) = %q, want %q", tt.in, u.String(), tt.want)
			}
			var user, pass string
			if u.User != nil {
				user = u.User.Username()
				pass, _ = u.User.Password()
			}
			if user != tt.user || pass != tt.pass {
				t.Errorf("Parse(%q) credentials %q:%q, want %q:%q", tt.in, user, pass, tt.user, tt.pass)
			}
			// What Parse returns, Parse reads back the same.
			again, err := proxies.Parse(u.String())
			if err != nil || again.String() != u.String() {
				t.Errorf("Parse(%q) = %v, %v; want it unchanged", u.String(), again, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // in the error
	}{
		{"empty", "  ", "empty"},
		{"missing port", "proxy.example", "proxy proxy.example: missing port"},
		{"empty port", "proxy.example:", "missing port"},
		{"bad port", "proxy.example:http", "proxy proxy.example: invalid port"},
		{"port zero", "proxy.example:0", "invalid port"},
		{"port too big", "proxy.example:65536", "invalid port"},
		{"signed port", "proxy.example:+80", "invalid port"},
		{"empty host", ":3128", "empty host"},
		{"bad host", "prox y:3128", "invalid host"},
		{"user without password", "10.0.0.1:3128:alice", "want host:port or host:port:user:pass"},
		{"empty user", "10.0.0.1:3128::" + secret, "empty user name"},
		{"ipv6 unclosed", "[::1:3128", "missing ']'"},
		{"ipv6 missing port", "[::1]", "missing port"},
		{"ipv6 junk", "[::1]x:3128", "invalid host"},
		{"scheme ftp", "ftp://10.0.0.1:21", `unsupported scheme "ftp"`},
		{"scheme weird", "x y://alice:" + secret + "@h:1", "unsupported scheme (want"},
		{"url missing port", "http://alice:" + secret + "@10.0.0.1", "proxy 10.0.0.1: missing port"},
		{"url bad port", "http://alice:" + secret + "@10.0.0.1:abc", "invalid http URL"},
		{"url port too big", "http://alice:" + secret + "@10.0.0.1:70000", "invalid port"},
		{"url empty host", "http://alice:" + secret + "@:3128", "empty host"},
		{"url path", "http://alice:" + secret + "@10.0.0.1:3128/x", "nothing may follow host:port"},
		{"url query", "http://10.0.0.1:3128?u=" + secret, "nothing may follow host:port"},
		{"url unescaped slash in password", "http://alice:12/" + secret + "@10.0.0.1:3128", "percent-encode"},
		{"url unescaped slash, port-like", "http://alice:" + secret + "/x@10.0.0.1:3128", "invalid http URL"},
		{"url empty user", "http://:" + secret + "@10.0.0.1:3128", "empty user name"},
		{"credentials without scheme", "alice:" + secret + "@10.0.0.1:3128", "invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := proxies.Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tt.in, u)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error %q, want it to contain %q", tt.in, err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Parse(%q) error %q shows the password", tt.in, err)
			}
		})
	}
}

func TestParseList(t *testing.T) {
	t.Parallel()
	list, err := proxies.ParseList(" 10.0.0.1:3128 ,, socks5://10.0.0.2:1080,10.0.0.3:3128:alice:" + secret + ",")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range list {
		got = append(got, u.Redacted())
	}
	want := "http://10.0.0.1:3128 socks5://10.0.0.2:1080 http://alice:xxxxx@10.0.0.3:3128"
	if strings.Join(got, " ") != want {
		t.Errorf("ParseList = %q, want %q", got, want)
	}

	if list, err := proxies.ParseList(""); err != nil || len(list) != 0 {
		t.Errorf("ParseList(\"\") = %v, %v; want an empty list", list, err)
	}

	_, err = proxies.ParseList("10.0.0.1:3128, http://alice:" + secret + "@10.0.0.2")
	if err == nil || !strings.Contains(err.Error(), "entry 2: proxy 10.0.0.2: missing port") {
		t.Errorf("ParseList error %v, want one naming entry 2", err)
	}
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("ParseList error %q shows the password", err)
	}
}

func TestReadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	good := write("good.txt", "# office proxies\n\n10.0.0.1:3128\r\n  socks5://alice:"+secret+"@10.0.0.2:1080  \n#10.0.0.9:1\n10.0.0.3:3128:bob:pa:ss")
	list, err := proxies.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range list {
		got = append(got, u.Redacted())
	}
	want := "http://10.0.0.1:3128 socks5://alice:xxxxx@10.0.0.2:1080 http://bob:xxxxx@10.0.0.3:3128"
	if strings.Join(got, " ") != want {
		t.Errorf("ReadFile = %q, want %q", got, want)
	}

	bad := write("bad.txt", "10.0.0.1:3128\n\n10.0.0.2:3128:alice\n")
	_, err = proxies.ReadFile(bad)
	if err == nil || !strings.Contains(err.Error(), "bad.txt line 3: proxy 10.0.0.2:3128") {
		t.Errorf("ReadFile error %v, want one naming line 3", err)
	}

	empty := write("empty.txt", "# none yet\n")
	if list, err := proxies.ReadFile(empty); err != nil || len(list) != 0 {
		t.Errorf("ReadFile(empty) = %v, %v; want an empty list", list, err)
	}

	if _, err := proxies.ReadFile(filepath.Join(dir, "missing.txt")); err == nil {
		t.Error("ReadFile of a missing file: no error")
	}
}

// FuzzParse checks that Parse never panics, that what it accepts is usable
// and reads back the same, and that no error shows a password.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"10.0.0.1:3128", "10.0.0.1:3128:alice:" + secret, "[::1]:1080",
		"http://alice:" + secret + "@10.0.0.1:3128", "socks5://h:1", "ftp://h:1",
		"http://a:1/2@h:3", "alice:" + secret + "@h:1", "h", ":", "[", "http://[::1%25eth0]:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := proxies.Parse(s)
		if err != nil {
			return
		}
		if !strings.Contains(strings.Join(proxies.Schemes, " "), u.Scheme) || u.Hostname() == "" || u.Port() == "" {
			t.Fatalf("Parse(%q) = %q: unusable", s, u)
		}
		again, err := proxies.Parse(u.String())
		if err != nil || again.String() != u.String() {
			t.Fatalf("Parse(%q) = %q, which reads back as %v, %v", s, u, again, err)
		}
	})
}

// FuzzParseSecret builds proxy strings around a fuzzed password, in both
// forms, and checks that an error never shows it. The password is wrapped in
// letters no error message holds, so that it cannot show up by chance.
func FuzzParseSecret(f *testing.F) {
	f.Add("http", "10.0.0.1", "3128", "alice", secret)
	f.Add("socks5", "h", "99999", "a", "p/a@s:s")
	f.Add("ftp", "", "x", "", "12/34")
	f.Fuzz(func(t *testing.T, scheme, host, port, user, pass string) {
		pass = "ZQ" + pass + "XJ"
		for _, s := range []string{
			host + ":" + port + ":" + user + ":" + pass,
			scheme + "://" + user + ":" + pass + "@" + host + ":" + port,
			scheme + "://" + url.UserPassword(user, pass).String() + "@" + host + ":" + port,
			user + ":" + pass + "@" + host + ":" + port,
		} {
			if strings.Count(s, pass) != 1 {
				continue
			}
			_, err := proxies.Parse(s)
			if err != nil && strings.Contains(err.Error(), pass) {
				t.Fatalf("Parse(%q) error %q shows the password %q", s, err, pass)
			}
			_, err = proxies.ParseList("h:1," + s)
			if err != nil && strings.Contains(err.Error(), pass) {
				t.Fatalf("ParseList(%q) error %q shows the password %q", s, err, pass)
			}
		}
	})
}

func TestReadFileBounds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	comment := func(size int) string { return "#" + strings.Repeat("x", size-2) + "\n" }
	tests := []struct {
		name   string
		path   string
		errHas string // "" when the file is accepted
	}{
		{name: "largest size", path: write("max.txt", comment(proxies.MaxFileSize))},
		{name: "one byte over", path: write("big.txt", comment(proxies.MaxFileSize+1)), errHas: "larger than 1048576 bytes"},
		{name: "most lines", path: write("lines.txt", strings.Repeat("\n", proxies.MaxFileLines))},
		{name: "most lines, last unterminated", path: write("lines2.txt", strings.Repeat("\n", proxies.MaxFileLines-1)+"#")},
		{name: "one line over", path: write("many.txt", strings.Repeat("\n", proxies.MaxFileLines)+"#"), errHas: "more than 100000 lines"},
		{name: "endless device", path: "/dev/zero", errHas: "larger than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := os.Stat(tt.path); err != nil {
				t.Skipf("no %s here: %v", tt.path, err)
			}
			_, err := proxies.ReadFile(tt.path)
			switch {
			case tt.errHas == "" && err != nil:
				t.Fatalf("ReadFile: %v, want the file accepted", err)
			case tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas) || !strings.Contains(err.Error(), tt.path)):
				t.Fatalf("ReadFile error %v, want one naming the file and %q", err, tt.errHas)
			}
		})
	}
}
