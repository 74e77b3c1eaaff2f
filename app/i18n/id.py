"""Bahasa Indonesia: the default language of every page and panel."""

STRINGS: dict[str, str] = {
    # Numbers and durations.
    "num.decimal": ",",
    "num.thousands": ".",
    "num.none": "–",
    "num.time_sep": ".",
    "unit.minute": "menit",
    "unit.hour": "jam",
    "unit.day": "hari",
    "month.1": "Januari",
    "month.2": "Februari",
    "month.3": "Maret",
    "month.4": "April",
    "month.5": "Mei",
    "month.6": "Juni",
    "month.7": "Juli",
    "month.8": "Agustus",
    "month.9": "September",
    "month.10": "Oktober",
    "month.11": "November",
    "month.12": "Desember",
    # Service performance columns (report, exports, dashboard).
    "col.agency": "OPD",
    "col.service": "Layanan",
    "col.sla_target": "Target SLA",
    "col.opened": "Masuk",
    "col.resolved": "Selesai",
    "col.open": "Masih terbuka",
    "col.overdue": "Lewat tenggat",
    "col.cancelled": "Dibatalkan",
    "col.sla_pct": "Capaian SLA",
    "col.median": "Median waktu penyelesaian",
    "col.p90": "P90 waktu penyelesaian",
    # The printable service performance report.
    "report.title": "Laporan Kinerja Layanan Publik",
    "report.period": "Periode",
    "report.generated": "Dibuat",
    "report.summary": "Ringkasan",
    "report.by_agency": "Kinerja per OPD",
    "report.by_service": "Rincian per layanan",
    "report.agency_total": "Jumlah OPD",
    "report.city_total": "Jumlah seluruh OPD",
    "report.unregistered": "belum terdaftar di profil kota",
    "report.no_service": "(tanpa jenis layanan)",
    "report.no_data": "Tidak ada tiket pada periode ini.",
    "report.print": "Cetak / simpan PDF",
    "report.legend": "Warna capaian SLA: hijau ≥ 90%, kuning ≥ 75%, merah < 75%.",
    "report.notes": (
        "Masuk: tiket yang dibuka dalam periode. Selesai: tiket yang selesai atau ditutup dalam periode "
        "(tiket yang dibatalkan tidak dihitung). Masih terbuka dan lewat tenggat: keadaan saat laporan dibuat. "
        "Capaian SLA: bagian tiket selesai yang diselesaikan sebelum tenggatnya. "
        "Waktu penyelesaian dihitung dari tiket dibuka hingga selesai; P90: 90% tiket selesai dalam waktu ini."
    ),
    "report.source": "Sumber: SatuPintu, pusat komando {city}.",
}
