package viewer

import "testing"

func TestPersonName(t *testing.T) {
	for in, want := range map[string]string{
		"DEMO^PHANTOM":        "DEMO, PHANTOM",
		"DOE^JANE^M^DR^JR":    "DOE, DR JANE M JR",
		"Doe^Jane":            "Doe, Jane",
		"DOE":                 "DOE",
		"^JANE":               "JANE",
		"  DOE ^ JANE ":       "DOE, JANE",
		"=山田^太郎=やまだ^たろう":      "山田, 太郎",
		"Yamada^Tarou=山田^太郎=": "Yamada, Tarou",
		"":                    "",
	} {
		if got := PersonName(in); got != want {
			t.Errorf("PersonName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatDateTimeAge(t *testing.T) {
	for in, want := range map[string]string{"20240101": "2024-01-01", "2024": "2024", "": "", "20241399": "20241399"} {
		if got := FormatDate(in); got != want {
			t.Errorf("FormatDate(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"090000": "09:00", "0905": "09:05", "13": "13:00", "093015.123": "09:30", "9": "9", "ab": "ab"} {
		if got := FormatTime(in); got != want {
			t.Errorf("FormatTime(%q) = %q, want %q", in, got, want)
		}
	}
	for _, c := range []struct{ birth, on, want string }{
		{"19700102", "20240101", "53 y"},
		{"19700101", "20240101", "54 y"},
		{"20220615", "20240101", "18 mo"},
		{"20231220", "20240101", "12 d"},
		{"20240102", "20240101", ""},
		{"", "20240101", ""},
	} {
		if got := Age(c.birth, c.on); got != c.want {
			t.Errorf("Age(%s, %s) = %q, want %q", c.birth, c.on, got, c.want)
		}
	}
	st := &Study{PatientSex: "F", PatientBirthDate: "19700101", StudyDate: "20240101"}
	if got := st.SexAge(); got != "F 54 y" {
		t.Errorf("SexAge = %q", got)
	}
}
