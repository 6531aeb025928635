package deid

import "github.com/suyashkumar/dicom/pkg/tag"

// actionOf returns the profile's action for t, if it lists t.
func actionOf(t tag.Tag) (Action, bool) {
	a, ok := basicProfile[uint32(t.Group)<<16|uint32(t.Element)]
	return a, ok
}

// Action is what the profile does to an attribute (PS3.15 Table E.1-1 action codes). Where the table
// allows a choice (X/Z, Z/D, X/Z/D …) the one recorded here keeps an MR image valid: Z for attributes an
// IOD may require (type 2), X for optional ones.
type Action byte

const (
	Keep   Action = 'K' // K: keep (sequences are still cleaned inside)
	Remove Action = 'X' // X: remove
	Empty  Action = 'Z' // Z: replace with a zero-length value
	Dummy  Action = 'D' // D: replace with a non-zero-length dummy value of the same VR
	NewUID Action = 'U' // U: replace with a new UID, the same one for every occurrence in the export
)

// basicProfile is the Basic Application Level Confidentiality Profile's attribute actions (PS3.15 Table
// E.1-1, "Basic Prof." column). Attributes not listed are kept, except that private attributes, curves,
// overlay data and comments are removed, every PN attribute not listed is removed and every UID that is
// not a well-known DICOM UID is replaced (see Anonymizer).
var basicProfile = map[uint32]Action{
	0x00080014: NewUID, // Instance Creator UID
	0x00080015: Remove, // Instance Coercion DateTime
	0x00080018: NewUID, // SOP Instance UID
	0x00080020: Empty,  // Study Date
	0x00080021: Remove, // Series Date
	0x00080022: Remove, // Acquisition Date
	0x00080023: Empty,  // Content Date
	0x00080024: Remove, // Overlay Date
	0x00080025: Remove, // Curve Date
	0x0008002A: Remove, // Acquisition DateTime
	0x00080030: Empty,  // Study Time
	0x00080031: Remove, // Series Time
	0x00080032: Remove, // Acquisition Time
	0x00080033: Empty,  // Content Time
	0x00080034: Remove, // Overlay Time
	0x00080035: Remove, // Curve Time
	0x00080050: Empty,  // Accession Number
	0x00080058: NewUID, // Failed SOP Instance UID List
	0x00080080: Remove, // Institution Name
	0x00080081: Remove, // Institution Address
	0x00080082: Remove, // Institution Code Sequence
	0x00080090: Empty,  // Referring Physician's Name
	0x00080092: Remove, // Referring Physician's Address
	0x00080094: Remove, // Referring Physician's Telephone Numbers
	0x00080096: Remove, // Referring Physician Identification Sequence
	0x0008009C: Empty,  // Consulting Physician's Name
	0x0008009D: Remove, // Consulting Physician Identification Sequence
	0x00080201: Remove, // Timezone Offset From UTC
	0x00081010: Remove, // Station Name
	0x00081030: Remove, // Study Description
	0x0008103E: Remove, // Series Description
	0x00081040: Remove, // Institutional Department Name
	0x00081041: Remove, // Institutional Department Type Code Sequence
	0x00081048: Remove, // Physician(s) of Record
	0x00081049: Remove, // Physician(s) of Record Identification Sequence
	0x00081050: Remove, // Performing Physicians' Name
	0x00081052: Remove, // Performing Physician Identification Sequence
	0x00081060: Remove, // Name of Physician(s) Reading Study
	0x00081062: Remove, // Physician(s) Reading Study Identification Sequence
	0x00081070: Remove, // Operators' Name
	0x00081072: Remove, // Operator Identification Sequence
	0x00081080: Remove, // Admitting Diagnoses Description
	0x00081084: Remove, // Admitting Diagnoses Code Sequence
	0x00081110: Remove, // Referenced Study Sequence
	0x00081111: Remove, // Referenced Performed Procedure Step Sequence
	0x00081120: Remove, // Referenced Patient Sequence
	0x00081155: NewUID, // Referenced SOP Instance UID
	0x00081195: NewUID, // Transaction UID
	0x00082111: Remove, // Derivation Description
	0x00083010: NewUID, // Irradiation Event UID
	0x00084000: Remove, // Identifying Comments
	0x00100010: Empty,  // Patient's Name
	0x00100020: Empty,  // Patient ID
	0x00100021: Remove, // Issuer of Patient ID
	0x00100030: Empty,  // Patient's Birth Date
	0x00100032: Remove, // Patient's Birth Time
	0x00100040: Empty,  // Patient's Sex
	0x00100050: Remove, // Patient's Insurance Plan Code Sequence
	0x00100101: Remove, // Patient's Primary Language Code Sequence
	0x00100102: Remove, // Patient's Primary Language Modifier Code Sequence
	0x00101000: Remove, // Other Patient IDs
	0x00101001: Remove, // Other Patient Names
	0x00101002: Remove, // Other Patient IDs Sequence
	0x00101005: Remove, // Patient's Birth Name
	0x00101010: Remove, // Patient's Age
	0x00101020: Remove, // Patient's Size
	0x00101030: Remove, // Patient's Weight
	0x00101040: Remove, // Patient's Address
	0x00101050: Remove, // Insurance Plan Identification
	0x00101060: Remove, // Patient's Mother's Birth Name
	0x00101080: Remove, // Military Rank
	0x00101081: Remove, // Branch of Service
	0x00101090: Remove, // Medical Record Locator
	0x00101100: Remove, // Referenced Patient Photo Sequence
	0x00102000: Remove, // Medical Alerts
	0x00102110: Remove, // Allergies
	0x00102150: Remove, // Country of Residence
	0x00102152: Remove, // Region of Residence
	0x00102154: Remove, // Patient's Telephone Numbers
	0x00102155: Remove, // Patient's Telecom Information
	0x00102160: Remove, // Ethnic Group
	0x00102180: Remove, // Occupation
	0x001021A0: Remove, // Smoking Status
	0x001021B0: Remove, // Additional Patient History
	0x001021C0: Remove, // Pregnancy Status
	0x001021D0: Remove, // Last Menstrual Date
	0x001021F0: Remove, // Patient's Religious Preference
	0x00102203: Remove, // Patient's Sex Neutered
	0x00102297: Remove, // Responsible Person
	0x00102299: Remove, // Responsible Organization
	0x00104000: Remove, // Patient Comments
	0x00181000: Remove, // Device Serial Number
	0x00181002: NewUID, // Device UID
	0x00181004: Remove, // Plate ID
	0x00181005: Remove, // Generator ID
	0x00181007: Remove, // Cassette ID
	0x00181008: Remove, // Gantry ID
	0x00181030: Remove, // Protocol Name
	0x00181400: Remove, // Acquisition Device Processing Description
	0x00184000: Remove, // Acquisition Comments
	0x0018700A: Remove, // Detector ID
	0x00189424: Remove, // Acquisition Protocol Description
	0x0018A003: Remove, // Contribution Description
	0x0020000D: NewUID, // Study Instance UID
	0x0020000E: NewUID, // Series Instance UID
	0x00200010: Empty,  // Study ID
	0x00200052: NewUID, // Frame of Reference UID
	0x00200200: NewUID, // Synchronization Frame of Reference UID
	0x00203401: Remove, // Modifying Device ID
	0x00203404: Remove, // Modifying Device Manufacturer
	0x00203406: Remove, // Modified Image Description
	0x00204000: Remove, // Image Comments
	0x00209158: Remove, // Frame Comments
	0x00209161: NewUID, // Concatenation UID
	0x00209164: NewUID, // Dimension Organization UID
	0x00281199: NewUID, // Palette Color Lookup Table UID
	0x00281214: NewUID, // Large Palette Color Lookup Table UID
	0x00284000: Remove, // Image Presentation Comments
	0x00320012: Remove, // Study ID Issuer
	0x00321020: Remove, // Scheduled Study Location
	0x00321021: Remove, // Scheduled Study Location AE Title
	0x00321030: Remove, // Reason for Study
	0x00321032: Remove, // Requesting Physician
	0x00321033: Remove, // Requesting Service
	0x00321060: Remove, // Requested Procedure Description
	0x00321070: Remove, // Requested Contrast Agent
	0x00324000: Remove, // Study Comments
	0x00380004: Remove, // Referenced Patient Alias Sequence
	0x00380010: Remove, // Admission ID
	0x00380011: Remove, // Issuer of Admission ID
	0x0038001E: Remove, // Scheduled Patient Institution Residence
	0x00380020: Remove, // Admitting Date
	0x00380021: Remove, // Admitting Time
	0x00380040: Remove, // Discharge Diagnosis Description
	0x00380050: Remove, // Special Needs
	0x00380060: Remove, // Service Episode ID
	0x00380061: Remove, // Issuer of Service Episode ID
	0x00380062: Remove, // Service Episode Description
	0x00380300: Remove, // Current Patient Location
	0x00380400: Remove, // Patient's Institution Residence
	0x00380500: Remove, // Patient State
	0x00384000: Remove, // Visit Comments
	0x00400001: Remove, // Scheduled Station AE Title
	0x00400002: Remove, // Scheduled Procedure Step Start Date
	0x00400003: Remove, // Scheduled Procedure Step Start Time
	0x00400004: Remove, // Scheduled Procedure Step End Date
	0x00400005: Remove, // Scheduled Procedure Step End Time
	0x00400006: Remove, // Scheduled Performing Physician Name
	0x00400007: Remove, // Scheduled Procedure Step Description
	0x0040000B: Remove, // Scheduled Performing Physician Identification Sequence
	0x00400010: Remove, // Scheduled Station Name
	0x00400011: Remove, // Scheduled Procedure Step Location
	0x00400241: Remove, // Performed Station AE Title
	0x00400242: Remove, // Performed Station Name
	0x00400243: Remove, // Performed Location
	0x00400244: Remove, // Performed Procedure Step Start Date
	0x00400245: Remove, // Performed Procedure Step Start Time
	0x00400250: Remove, // Performed Procedure Step End Date
	0x00400251: Remove, // Performed Procedure Step End Time
	0x00400253: Remove, // Performed Procedure Step ID
	0x00400254: Remove, // Performed Procedure Step Description
	0x00400275: Remove, // Request Attributes Sequence
	0x00400280: Remove, // Comments on the Performed Procedure Step
	0x00400555: Remove, // Acquisition Context Sequence
	0x00401001: Remove, // Requested Procedure ID
	0x00401004: Remove, // Patient Transport Arrangements
	0x00401005: Remove, // Requested Procedure Location
	0x00401010: Remove, // Names of Intended Recipients of Results
	0x00401011: Remove, // Intended Recipients of Results Identification Sequence
	0x00401101: Remove, // Person Identification Code Sequence
	0x00401102: Remove, // Person's Address
	0x00401103: Remove, // Person's Telephone Numbers
	0x00401400: Remove, // Requested Procedure Comments
	0x00402001: Remove, // Reason for the Imaging Service Request
	0x00402008: Remove, // Order Entered By
	0x00402009: Remove, // Order Enterer's Location
	0x00402010: Remove, // Order Callback Phone Number
	0x00402016: Remove, // Placer Order Number / Imaging Service Request
	0x00402017: Remove, // Filler Order Number / Imaging Service Request
	0x00402400: Remove, // Imaging Service Request Comments
	0x00403001: Remove, // Confidentiality Constraint on Patient Data Description
	0x0040A027: Remove, // Verifying Organization
	0x0040A073: Remove, // Verifying Observer Sequence
	0x0040A075: Remove, // Verifying Observer Name
	0x0040A078: Remove, // Author Observer Sequence
	0x0040A07A: Remove, // Participant Sequence
	0x0040A07C: Remove, // Custodial Organization Sequence
	0x0040A088: Remove, // Verifying Observer Identification Code Sequence
	0x0040A123: Remove, // Person Name
	0x0040A124: NewUID, // UID
	0x0040A730: Remove, // Content Sequence
	0x0040DB0C: NewUID, // Template Extension Organization UID
	0x0040DB0D: NewUID, // Template Extension Creator UID
	0x00700001: Remove, // Graphic Annotation Sequence
	0x00700084: Empty,  // Content Creator's Name
	0x00700086: Remove, // Content Creator's Identification Code Sequence
	0x00880140: NewUID, // Storage Media File-set UID
	0x00880200: Remove, // Icon Image Sequence
	0x00880904: Remove, // Topic Title
	0x00880906: Remove, // Topic Subject
	0x00880910: Remove, // Topic Author
	0x00880912: Remove, // Topic Keywords
	0x04000100: NewUID, // Digital Signature UID
	0x04000402: Remove, // Referenced Digital Signature Sequence
	0x04000403: Remove, // Referenced SOP Instance MAC Sequence
	0x04000404: Remove, // MAC
	0x04000550: Remove, // Modified Attributes Sequence
	0x04000561: Remove, // Original Attributes Sequence
	0x30060024: NewUID, // Referenced Frame of Reference UID
	0x300600C2: NewUID, // Related Frame of Reference UID
	0x300A0013: NewUID, // Dose Reference UID
	0x40000010: Remove, // Arbitrary
	0x40004000: Remove, // Text Comments
	0x40080042: Remove, // Results ID Issuer
	0x40080102: Remove, // Interpretation Recorder
	0x4008010A: Remove, // Interpretation Transcriber
	0x4008010B: Remove, // Interpretation Text
	0x4008010C: Remove, // Interpretation Author
	0x40080111: Remove, // Interpretation Approver Sequence
	0x40080114: Remove, // Physician Approving Interpretation
	0x40080115: Remove, // Interpretation Diagnosis Description
	0x40080118: Remove, // Results Distribution List Sequence
	0x40080119: Remove, // Distribution Name
	0x4008011A: Remove, // Distribution Address
	0x40080202: Remove, // Interpretation ID Issuer
	0x40080300: Remove, // Impressions
	0x40084000: Remove, // Results Comments
	0xFFFAFFFA: Remove, // Digital Signatures Sequence
	0xFFFCFFFC: Remove, // Data Set Trailing Padding
}
