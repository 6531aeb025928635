package demo

// Programme is a gene (or protein) programme of the synthetic generator: the latent patient trait that moves
// its expression.
type Programme int

// The generator's programmes.
const (
	Background    Programme = iota // no link to any trait: baseline and noise only
	Proliferation                  // cell cycle; rises with grade
	Hypoxia                        // glycolysis and hypoxia response; grade 4, IDH wild-type
	Mesenchymal                    // mesenchymal / wound response; IDH wild-type grade 4
	Immune                         // immune infiltration; follows the mesenchymal programme
	Proneural                      // oligodendroglial lineage; IDH-mutant tumours
	Neuronal                       // normal brain admixture; falls with grade
	MGMTSilencing                  // MGMT: low when the promoter is methylated
	EGFRAmplified                  // EGFR: high when amplified (IDH wild-type grade 4)
	CDKN2Deleted                   // CDKN2A/B: lost by homozygous deletion
	PTENLoss                       // PTEN: lower in IDH wild-type grade 4
	IGFBP2High                     // IGFBP2: high in IDH wild-type grade 4
)

// GeneEntry is one gene of the demo MG model's list. Symbols are HGNC-approved symbols of genes named in the
// glioma and cancer literature; the programme is this generator's assumption, not a biological claim.
type GeneEntry struct {
	Symbol    string
	Programme Programme
}

func genes(p Programme, symbols ...string) []GeneEntry {
	out := make([]GeneEntry, len(symbols))
	for i, s := range symbols {
		out[i] = GeneEntry{Symbol: s, Programme: p}
	}
	return out
}

// GeneList is the ordered gene list of the demo MG model (the card stores it; inputs are aligned to it by name).
var GeneList = concat(
	genes(MGMTSilencing, "MGMT"),
	genes(EGFRAmplified, "EGFR"),
	genes(CDKN2Deleted, "CDKN2A", "CDKN2B"),
	genes(PTENLoss, "PTEN"),
	genes(IGFBP2High, "IGFBP2"),
	genes(Background,
		"IDH1", "IDH2", "TP53", "ATRX", "TERT", "BRAF", "NF1", "RB1", "PIK3CA", "PIK3R1", "MET", "MYC", "MYCN",
		"H3-3A", "CIC", "FUBP1", "NOTCH1", "MDM2", "MDM4", "CDK4", "CDK6", "KRAS", "NRAS", "HRAS", "RAF1", "SRC",
		"ERBB2", "FGFR1", "FGFR3", "IGF1R", "PDGFB", "PDGFRB", "AKT1", "AKT2", "AKT3", "MTOR", "RPS6KB1",
		"EIF4EBP1", "MAPK1", "MAPK3", "MAP2K1", "JAK2", "BCL2", "BCL2L1", "BAX", "BAK1", "MCL1", "CASP3", "CASP8",
		"XIAP", "FAS", "MLH1", "MSH2", "MSH6", "PMS2", "BRCA1", "BRCA2", "ATM", "ATR", "CHEK1", "CHEK2", "PARP1",
		"XRCC1", "RAD51", "DNMT3A", "TET2", "SETD2", "ARID1A", "SMARCA4", "NF2", "SUFU", "PTCH1", "SMO", "GLI1",
		"CTNNB1", "APC", "AXIN2", "WNT5A", "LEF1", "TCF7L2", "NOTCH2", "HES1", "HEY1", "JAG1", "DLL1", "CDKN1A",
		"CDKN1B", "GADD45A", "TP73", "ID1", "ID2", "ID3", "ID4", "SMAD2", "SMAD3", "SMAD4", "BMP2", "BMP4",
		"NGFR", "PROM1", "L1CAM", "SOX9", "GPNMB", "CLU", "KDR", "FLT1", "ANGPT2", "TEK", "PECAM1", "VWF",
		"ESAM", "CD34"),
	genes(Proliferation,
		"MKI67", "TOP2A", "PCNA", "CCNB1", "CCNB2", "CDK1", "CDK2", "CCNE1", "CCNE2", "E2F1", "AURKA", "AURKB",
		"PLK1", "BUB1", "BUB1B", "BIRC5", "FOXM1", "MCM2", "MCM3", "MCM6", "MCM7", "TYMS", "RRM2", "CENPF",
		"KIF11", "KIF2C", "TPX2", "CDC20", "CDKN3", "MYBL2", "UBE2C", "ZWINT", "TTK", "NUSAP1", "PBK", "MELK",
		"CCNA2", "EZH2", "DNMT1"),
	genes(Hypoxia,
		"HK2", "LDHA", "PKM", "SLC2A1", "SLC2A3", "PGK1", "ENO1", "CA9", "VEGFA", "HIF1A", "ADM", "ANGPTL4",
		"NDRG1", "BNIP3", "P4HA1", "ALDOA", "GAPDH", "PFKFB3", "MXI1", "ERO1A", "EGLN3", "LOX"),
	genes(Mesenchymal,
		"CHI3L1", "CD44", "VIM", "SERPINE1", "TIMP1", "SPP1", "POSTN", "TNC", "MMP2", "MMP9", "COL1A1", "COL1A2",
		"COL3A1", "COL4A1", "COL4A2", "FN1", "LGALS3", "S100A4", "S100A10", "ANXA1", "ANXA2", "TAGLN2", "MSN",
		"TGFBI", "PLAU", "PLAUR", "ITGB1", "ITGA5", "CAV1", "CAV2", "EMP3", "SERPINA3", "C1R", "C1S", "TNFRSF1A",
		"RELB", "NFKB2", "TRADD", "CEBPB", "STAT3", "YAP1", "WWTR1", "PDPN", "IGFBP3", "IGFBP5", "IGFBP7",
		"CHI3L2", "TGFB1"),
	genes(Immune,
		"CD274", "PDCD1", "CTLA4", "CD8A", "CD4", "CD3E", "FOXP3", "PTPRC", "CD68", "CD163", "ITGAM", "AIF1",
		"IL6", "IL10", "CXCL8", "CCL2", "STAT1", "IRF1", "HLA-A", "HLA-B", "HLA-DRA", "B2M", "LYZ", "GZMB", "PRF1",
		"IFNG", "CXCL9", "CXCL10", "LAG3", "HAVCR2", "TIGIT", "IDO1", "ARG1", "CD14", "TREM2", "APOE", "C1QA",
		"C1QB", "TYROBP", "FCER1G"),
	genes(Proneural,
		"OLIG2", "OLIG1", "SOX2", "DLL3", "ASCL1", "NKX2-2", "SOX10", "SOX11", "PDGFRA", "BCAN", "NCAN", "PTPRZ1",
		"CSPG4", "DCX", "FABP7", "GPR17", "ERBB3", "SOX4", "TCF4", "NES"),
	genes(Neuronal,
		"SNAP25", "SYP", "GAP43", "NEFL", "STMN2", "GRIA2", "SLC1A2", "SLC1A3", "AQP4", "ALDH1L1", "S100B", "MBP",
		"PLP1", "MOG", "MAG", "CNP", "MAP2", "TUBB3", "INA", "ELAVL4", "SYT1", "GABRA1"),
)

// ProteinEntry is one antibody of the demo MM model's protein list, named in the TCGA RPPA `GENE|Antibody`
// convention.
type ProteinEntry struct {
	Name      string
	Programme Programme
}

func proteins(p Programme, names ...string) []ProteinEntry {
	out := make([]ProteinEntry, len(names))
	for i, s := range names {
		out[i] = ProteinEntry{Name: s, Programme: p}
	}
	return out
}

// ProteinList is the ordered protein list of the demo MM model.
var ProteinList = concat(
	proteins(Proliferation, "PCNA|PCNA", "CCNB1|Cyclin_B1", "CDK1|CDK1", "CCNE1|Cyclin_E1", "FOXM1|FoxM1",
		"RB1|Rb_pS807_S811", "CHEK1|Chk1_pS345"),
	proteins(Hypoxia, "AKT1 AKT2 AKT3|Akt_pS473", "AKT1 AKT2 AKT3|Akt_pT308", "MTOR|mTOR_pS2448",
		"RPS6|S6_pS235_S236", "RPS6|S6_pS240_S244", "EIF4EBP1|4E-BP1_pT37_T46", "LDHA|LDHA"),
	proteins(EGFRAmplified, "EGFR|EGFR", "EGFR|EGFR_pY1068", "EGFR|EGFR_pY1173"),
	proteins(PTENLoss, "PTEN|PTEN"),
	proteins(IGFBP2High, "IGFBP2|IGFBP2"),
	proteins(Mesenchymal, "FN1|Fibronectin", "CAV1|Caveolin-1", "SERPINE1|PAI-1", "ANXA1|Annexin-1",
		"COL6A1|Collagen_VI", "TGM2|Transglutaminase", "YAP1|YAP_pS127", "STAT3|STAT3_pY705"),
	proteins(Proneural, "ERBB3|HER3", "CDH2|N-Cadherin", "NOTCH1|Notch1", "SOX2|Sox2"),
	proteins(Background, "MAPK1 MAPK3|MAPK_pT202_Y204", "MAP2K1|MEK1_pS217_S221", "SRC|Src_pY416",
		"GSK3A GSK3B|GSK3-alpha-beta_pS21_S9", "BCL2|Bcl-2", "BAX|Bax", "BCL2L1|Bcl-xL",
		"CASP7|Caspase-7_cleavedD198", "BID|Bid", "XRCC1|XRCC1", "MSH2|MSH2", "MSH6|MSH6", "PARP1|PARP_cleaved",
		"TP53BP1|53BP1", "YWHAB|14-3-3_beta", "YWHAE|14-3-3_epsilon", "YWHAZ|14-3-3_zeta", "GAPDH|GAPDH",
		"TP53|p53", "CDKN1B|p27", "CDKN1A|p21", "CTNNB1|beta-Catenin", "ACACA|ACC1", "FASN|FASN",
		"PRKAA1|AMPK_pT172", "MYC|c-Myc", "RELA|NF-kB-p65_pS536", "ERBB2|HER2"),
)

func concat[T any](parts ...[]T) []T {
	var out []T
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
