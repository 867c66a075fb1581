"""Lecture tour: the article's argument in steps. Each asks the room to predict, then reveals the lab's own answer."""
import streamlit as st

from core import tour
from ui import bookmarks, classroom, page_link, require_entry
from ui import tour_views as views
from ui.i18n import t, words

require_entry()

asked_for = st.query_params.get("step", "")
n, understood = views.current_step()
step = tour.STEPS[n - 1]
bookmarks.keep(step=str(n))  # the lecturer's bookmark follows the tour
st.sidebar.toggle(t("tour.hide"), value=True, key=views.HIDE, help=t("tour.hide_help"))

views.fit_one_screen()
head, back, forward = st.container(key=views.HEAD).columns([10, 2, 2], vertical_alignment="center")
head.title(t("tour.heading", n=n, total=len(tour.STEPS), title=t(f"tour.{step.id}.title")))
revealed = views.is_shown(step.id)
back.button(t("tour.previous"), shortcut="Left", disabled=n == 1, on_click=views.go, args=(n - 1,), width="stretch")
forward.button(t("tour.next"), shortcut="Right", disabled=n == len(tour.STEPS), on_click=views.go, args=(n + 1,),
               type="primary" if revealed or not step.choices else "secondary", width="stretch")
if not understood:
    st.info(t("tour.bad_step", raw=asked_for, total=len(tour.STEPS)))
lecture = classroom.lecture(n, revealed)  # a class following this tour, if one was started

left, right = st.columns(2, gap="large")
if not step.choices:  # the summary: what every step found, as the data gives it
    views.summary(left, right)
    if lecture:
        left.markdown(classroom.room_summary(lecture["code"]))
else:
    try:
        asked = views.question_values(step)
    except tour.Missing as e:
        left.warning(words(e))
        st.stop()
    with left:
        st.markdown(f"**{t(f'tour.{step.id}.question', **asked)}**")
        guess = st.pills(t("tour.guess"), step.choices, key=f"tour_guess_{step.id}",
                         format_func=lambda c: t(f"tour.{step.id}.choice.{c}"), width="stretch", wrap=True,
                         label_visibility="collapsed", help=t("tour.guess"))
        if not revealed:
            st.button(t("tour.reveal"), type="primary", shortcut="Down", on_click=views.reveal, args=(step.id,))
    if not revealed:
        if step.prompt:  # a picture that sets the question up and gives nothing away
            with right:
                views.show_pictures(views.prompt(step))
    else:
        try:
            shown = views.measure(step)
        except tour.Missing as e:
            left.warning(words(e))
        else:
            verdict = "" if guess is None else t("tour.right" if guess == shown.answer.correct else "tour.wrong")
            left.success(t("tour.verdict", answer=t(f"tour.{step.id}.choice.{shown.answer.correct}"), guess=verdict))
            left.markdown(views.answer_text(step, shown.answer))
            if lecture:
                with left:
                    classroom.room_result(lecture["code"], n, shown.answer.correct, sentence=False)
            with right:
                views.show(shown)
                st.markdown(views.takeaway_line(step, shown.answer))
                page_link(step.page, t(f"tour.{step.id}.link"), views.page_query(step))
views.keys_hint(left)
