from django import forms
from django.conf import settings

from audits.ingest.messages import extract_too_large


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Extract file (CSV, UTF-8)", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"})
    )
    extract_date = forms.DateField(
        label="Extract date",
        help_text="When the data were drawn. Follow-up (e.g. 90-day mortality) is measured to it.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    publish = forms.BooleanField(
        label="Publish at once",
        required=False,
        help_text="Leave unticked to keep the release as a draft: only this audit's analysts see it until one of "
        "them publishes it from the release page, after reading its data quality and results.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        problem = extract_too_large(upload.size or 0, settings.MAX_EXTRACT_BYTES)
        if problem:
            raise forms.ValidationError(problem[0].upper() + problem[1:] + ".")
        return upload


class WithdrawForm(forms.Form):
    reason = forms.CharField(label="Reason for withdrawing", max_length=500, widget=forms.Textarea(attrs={"rows": 3}))
