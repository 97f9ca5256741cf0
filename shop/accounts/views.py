"""Account pages. Log-in, log-out and password reset are Django's own views with the shop's templates."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from recommendations.services import session_signals_forget

from . import services
from .models import Preferences
from .forms import AccountDeleteForm, AddressForm, SignUpForm


def sign_up(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:account")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.customer_sign_up(email=form.cleaned_data["email"], password=form.cleaned_data["password"])
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome! Your account is ready."))
        return redirect(request.GET.get("next") or "accounts:account")
    return render(request, "accounts/sign_up.html", {"form": form}, status=400 if form.is_bound else 200)


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """Order history and saved addresses."""
    orders = request.user.orders.prefetch_related("lines").order_by("-created_at")[:50]
    form = AddressForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.address_add(customer=request.user, **form.cleaned_data)
        messages.success(request, _("Address saved."))
        return redirect("accounts:account")
    preferences = Preferences.objects.filter(customer=request.user).first()
    return render(
        request, "accounts/account.html",
        {"orders": orders, "addresses": request.user.addresses.all(), "address_form": form,
         "signals_linked": bool(preferences and preferences.signals_linked)},
        status=400 if form.is_bound else 200,
    )


@login_required
@require_POST
def signals_link(request: HttpRequest) -> HttpResponse:
    linked = request.POST.get("linked") == "1"
    services.signals_link_set(customer=request.user, linked=linked)
    messages.success(request, _("Your searches are now linked to your account.") if linked
                     else _("Your searches are no longer linked to your account."))
    return redirect("accounts:account")


@login_required
@require_POST
def address_delete(request: HttpRequest, address_id: int) -> HttpResponse:
    if services.address_delete(customer=request.user, address_id=address_id):
        messages.success(request, _("Address deleted."))
    return redirect("accounts:account")


@login_required
def account_delete(request: HttpRequest) -> HttpResponse:
    form = AccountDeleteForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        if request.user.is_staff:
            messages.error(request, _("Staff accounts are removed by an administrator."))
            return redirect("accounts:account")
        session_signals_forget(request.session, account_id=request.user.id)
        services.account_delete(customer=request.user)
        logout(request)
        messages.success(request, _("Your account and your personal data are deleted."))
        return redirect("shop:home")
    return render(request, "accounts/delete.html", {"form": form}, status=400 if form.is_bound else 200)
