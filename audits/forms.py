from django import forms


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Extract file (CSV, UTF-8)", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"})
    )
    extract_date = forms.DateField(
        label="Extract date",
        help_text="When the data were drawn. Follow-up (e.g. 90-day mortality) is measured to it.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(label="Reason for withdrawing", max_length=500, widget=forms.Textarea(attrs={"rows": 3}))
