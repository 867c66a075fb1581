"""Lecture tour: the article's argument in steps. Each asks the room to predict, then reveals the lab's own answer."""
import streamlit as st

from core import tour
from ui import page_link, require_entry
from ui import tour_views as views
from ui.i18n import t

require_entry()

asked_for = st.query_params.get("step", "")
n, understood = views.current_step()
step = tour.STEPS[n - 1]
st.query_params["step"] = str(n)  # the lecturer's bookmark follows the tour
st.sidebar.toggle(t("tour.hide"), value=True, key=views.HIDE, help=t("tour.hide_help"))

st.title(t("tour.heading", n=n, total=len(tour.STEPS), title=t(f"tour.{step.id}.title")))
if not understood:
    st.info(t("tour.bad_step", raw=asked_for, total=len(tour.STEPS)))

left, right = st.columns([2, 3], gap="large")
if step.choices:
    try:
        asked = views.question_values(step)
    except views.Missing as e:
        left.warning(e.message)
        asked = None
    if asked is not None:
        with left:
            st.markdown(f"**{t(f'tour.{step.id}.question', **asked)}**")
            guess = st.pills(t("tour.guess"), step.choices, key=f"tour_guess_{step.id}",
                             format_func=lambda c: t(f"tour.{step.id}.choice.{c}"))
            if not views.is_shown(step.id):
                st.button(t("tour.reveal"), type="primary", shortcut="Down", on_click=views.reveal, args=(step.id,))
        if views.is_shown(step.id):
            try:
                shown = views.measure(step)
            except views.Missing as e:
                left.warning(e.message)
            else:
                with left:
                    verdict = "" if guess is None else t("tour.right" if guess == shown.answer.correct else "tour.wrong")
                    st.success(f"**{t(f'tour.{step.id}.choice.{shown.answer.correct}')}.** {verdict}")
                    st.markdown(views.answer_text(step, shown.answer))
                    st.markdown(f"**{t('tour.takeaway')}** {views.takeaway_text(step, shown.answer)}")
                    page_link(step.page, t(f"tour.{step.id}.link"), step.query)
                with right:
                    views.show(shown)
        elif step.id in views.PROMPTS:
            with right:
                try:
                    views.show_pictures(views.PROMPTS[step.id]())
                except views.Missing as e:
                    st.warning(e.message)
else:  # the summary: every step's lesson, as the data gives it
    with left:
        st.markdown(t("tour.summary.intro"))
    for i, s in enumerate(tour.STEPS[:-1], 1):
        try:
            line = views.takeaway(s)
        except views.Missing as e:
            line = e.message
        (left if i <= 5 else right).markdown(f"{i}. **{t(f'tour.{s.id}.title')}**: {line}")

back, forward, hint = st.columns([1, 1, 3], vertical_alignment="center")
back.button(t("tour.previous"), shortcut="Left", disabled=n == 1, on_click=views.go, args=(n - 1,), width="stretch")
forward.button(t("tour.next"), shortcut="Right", disabled=n == len(tour.STEPS), on_click=views.go, args=(n + 1,),
               type="primary" if views.is_shown(step.id) or not step.choices else "secondary", width="stretch")
hint.caption(t("tour.keys"))
