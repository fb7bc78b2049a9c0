// Education, research and science. Written for jobbert; one title per line: en | de | es | zh
export default `
teacher | Lehrer | profesor | 教师
primary school teacher | Grundschullehrer | maestro de educación primaria | 小学教师
secondary school teacher | Gymnasiallehrer | profesor de educación secundaria | 中学教师
kindergarten teacher | Erzieher im Kindergarten | maestro de educación infantil | 幼儿园老师
early childhood educator | Frühpädagoge | educador infantil | 幼儿教育工作者
special education teacher | Sonderpädagoge | profesor de educación especial | 特殊教育教师
mathematics teacher | Mathematiklehrer | profesor de matemáticas | 数学老师
English teacher | Englischlehrer | profesor de inglés | 英语老师
language teacher | Sprachlehrer | profesor de idiomas | 语言教师
music teacher | Musiklehrer | profesor de música | 音乐老师
art teacher | Kunstlehrer | profesor de arte | 美术老师
physical education teacher | Sportlehrer | profesor de educación física | 体育老师
vocational teacher | Berufsschullehrer | profesor de formación profesional | 职业学校教师
driving instructor | Fahrlehrer | profesor de autoescuela | 驾驶教练
tutor | Nachhilfelehrer | profesor particular | 家教
teaching assistant | Unterrichtsassistent | auxiliar docente | 助教
school principal | Schulleiter | director de colegio | 校长
school counsellor | Schulberater | orientador escolar | 学校辅导员
university professor | Universitätsprofessor | catedrático de universidad | 大学教授
lecturer | Dozent | profesor universitario | 讲师
research assistant | wissenschaftlicher Mitarbeiter | asistente de investigación | 研究助理
postdoctoral researcher | Postdoktorand | investigador posdoctoral | 博士后研究员
PhD student | Doktorand | doctorando | 博士研究生
researcher | Forscher | investigador | 研究员
librarian | Bibliothekar | bibliotecario | 图书管理员
archivist | Archivar | archivero | 档案员
museum curator | Museumskurator | conservador de museo | 博物馆馆长
instructional designer | Instruktionsdesigner | diseñador instruccional | 教学设计师
corporate trainer | Unternehmenstrainer | formador de empresa | 企业培训师
education consultant | Bildungsberater | asesor educativo | 教育顾问
chemist | Chemiker | químico | 化学家
physicist | Physiker | físico | 物理学家
biologist | Biologe | biólogo | 生物学家
microbiologist | Mikrobiologe | microbiólogo | 微生物学家
biochemist | Biochemiker | bioquímico | 生物化学家
biotechnologist | Biotechnologe | biotecnólogo | 生物技术专家
geologist | Geologe | geólogo | 地质学家
mathematician | Mathematiker | matemático | 数学家
astronomer | Astronom | astrónomo | 天文学家
meteorologist | Meteorologe | meteorólogo | 气象学家
environmental scientist | Umweltwissenschaftler | científico ambiental | 环境科学家
laboratory technician | Laborant | técnico de laboratorio | 实验室技术员
laboratory manager | Laborleiter | jefe de laboratorio | 实验室经理
chemical laboratory assistant | Chemielaborant | auxiliar de laboratorio químico | 化学实验室助理
food technologist | Lebensmitteltechnologe | tecnólogo de alimentos | 食品技术专家
pharmacologist | Pharmakologe | farmacólogo | 药理学家
sociologist | Soziologe | sociólogo | 社会学家
historian | Historiker | historiador | 历史学家
archaeologist | Archäologe | arqueólogo | 考古学家
political scientist | Politikwissenschaftler | politólogo | 政治学家
anthropologist | Anthropologe | antropólogo | 人类学家
linguist | Linguist | lingüista | 语言学家
philosopher | Philosoph | filósofo | 哲学家
biology teacher | Biologielehrer | profesor de biología | 生物老师
chemistry teacher | Chemielehrer | profesor de química | 化学老师
physics teacher | Physiklehrer | profesor de física | 物理老师
history teacher | Geschichtslehrer | profesor de historia | 历史老师
geography teacher | Erdkundelehrer | profesor de geografía | 地理老师
German teacher | Deutschlehrer | profesor de alemán | 德语老师
Spanish teacher | Spanischlehrer | profesor de español | 西班牙语老师
Chinese teacher | Chinesischlehrer | profesor de chino | 中文老师
computer science teacher | Informatiklehrer | profesor de informática | 计算机老师
substitute teacher | Vertretungslehrer | profesor sustituto | 代课教师
adult education teacher | Dozent in der Erwachsenenbildung | profesor de educación de adultos | 成人教育教师
deputy head teacher | stellvertretender Schulleiter | subdirector de colegio | 副校长
school secretary | Schulsekretär | secretario escolar | 学校秘书
school social worker | Schulsozialarbeiter | trabajador social escolar | 学校社工
educational psychologist | Schulpsychologe | psicólogo educativo | 教育心理学家
after-school care worker | Hortbetreuer | monitor de actividades extraescolares | 课后托管老师
daycare centre manager | Kitaleiter | director de guardería | 幼儿园园长
assistant professor | Juniorprofessor | profesor ayudante doctor | 助理教授
dean | Dekan | decano | 学院院长
academic advisor | Studienberater | asesor académico | 学业顾问
admissions officer | Mitarbeiter Studierendenzulassung | responsable de admisiones | 招生专员
e-learning developer | E-Learning-Entwickler | desarrollador de e-learning | 在线课程开发员
life coach | Lebensberater | coach de vida | 生活教练
career counsellor | Berufsberater | orientador profesional | 职业规划顾问
library assistant | Bibliotheksassistent | auxiliar de biblioteca | 图书馆助理
museum educator | Museumspädagoge | educador de museo | 博物馆教育专员
research scientist | Wissenschaftler | científico investigador | 研究科学家
geneticist | Genetiker | genetista | 遗传学家
ecologist | Ökologe | ecólogo | 生态学家
marine biologist | Meeresbiologe | biólogo marino | 海洋生物学家
zoologist | Zoologe | zoólogo | 动物学家
botanist | Botaniker | botánico | 植物学家
oceanographer | Ozeanograf | oceanógrafo | 海洋学家
hydrologist | Hydrologe | hidrólogo | 水文学家
geophysicist | Geophysiker | geofísico | 地球物理学家
neuroscientist | Neurowissenschaftler | neurocientífico | 神经科学家
materials scientist | Materialwissenschaftler | científico de materiales | 材料科学家
toxicologist | Toxikologe | toxicólogo | 毒理学家
immunologist | Immunologe | inmunólogo | 免疫学家
analytical chemist | analytischer Chemiker | químico analítico | 分析化学家
biology laboratory assistant | Biologielaborant | técnico de laboratorio de biología | 生物实验室助理
demographer | Demograf | demógrafo | 人口学家
geographer | Geograf | geógrafo | 地理学家
cartographer | Kartograf | cartógrafo | 地图制图师
`;
